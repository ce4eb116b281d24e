# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio families: one factory per family returning a node's RX source, TX
sink and latency L, all following the same time model (docs/emulator.md): TX
sample n leaves the antenna when RX sample n + L arrives.

    radio = open_radio(testbed, node_id, hub=hub)   # hub only for `sim`
    tb.connect(radio.source, ...); tb.connect(..., radio.sink)

A radio that cannot be opened raises RadioError with one line naming the
family and the device arguments.
"""

from dataclasses import dataclass, field
from typing import Any, Optional

__all__ = ["RadioError", "Radio", "open_radio", "make_hub", "PLUTO_MAX_ATTENUATION"]

# dB: the AD936x's TX attenuation range is 0..89.75 (a pluto tx_gain is -attenuation)
PLUTO_MAX_ATTENUATION = 89.75


class RadioError(RuntimeError):
    """A radio could not be opened or configured (one-line message)."""


@dataclass
class Radio:
    node_id: int
    family: str
    source: Any
    sink: Any
    latency: Optional[int]
    nchan: int = 1
    description: str = ""
    blocks: list = field(default_factory=list)  # extra blocks to keep alive
    connection: Any = None  # sim across processes: the HubConnection (join() before start)
    monitor: Any = None  # radio_monitor watching for events that invalidate L (uhd)
    messages: list = field(default_factory=list)  # (src, port, dst, port) to msg_connect

    def attach(self, tb):
        """Connect the monitor (RX channel 0 branch) and the message
        connections into top block `tb`."""
        if self.monitor is not None:
            tb.connect((self.source, 0), self.monitor)
        for src, src_port, dst, dst_port in self.messages:
            tb.msg_connect(src, src_port, dst, dst_port)


def make_hub(testbed, **overrides):
    """The emulator hub of a testbed: one hub node per file node, in file order."""
    from . import sim
    return sim.make_hub(testbed, **overrides)


def open_radio(testbed, node_id, hub=None, nsamples=0, hub_endpoint=None):
    """Open the radio of node `node_id` of a testbed (see testbed_file).

    Args:
        testbed: a Testbed (cohere.testbed_file.load_testbed).
        node_id: the node's id.
        hub: the emulator hub (make_hub), for the `sim` family in this process.
        nsamples: `sim` only: the source finishes after this many samples.
        hub_endpoint: `sim` without a hub: the control endpoint of a
            `cohere hub` process; the radio is then its connection
            (radio.connection.join() before starting the flowgraph).
    """
    node = testbed.node(node_id)
    if node.radio == "sim" and hub is None and hub_endpoint is not None:
        from . import sim
        return sim.open_remote(testbed, node, hub_endpoint)
    if node.radio == "sim":
        from . import sim as family
    elif node.radio == "uhd":
        from . import uhd as family
    elif node.radio == "pluto":
        from . import pluto as family
    elif node.radio == "soapy":
        from . import soapy as family
    else:  # load_testbed already rejects it; keep the error explicit anyway
        raise RadioError(f"node {node_id}: unknown radio family {node.radio!r}")
    return family.open_radio(testbed, node, hub=hub, nsamples=nsamples)


def first_line(exc):
    """A driver exception as one informative line: UHD, for one, says "No
    devices found for ----->" and lists the device address on the next lines;
    those are joined (without the arrow) rather than cut off."""
    text = str(exc).strip().replace("LookupError: KeyError: ", "")
    if not text:
        return type(exc).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    head = lines[0].rstrip("->").strip()
    if len(lines) > 1 and head != lines[0]:
        return f"{head} {' '.join(lines[1:])}"
    return lines[0]
