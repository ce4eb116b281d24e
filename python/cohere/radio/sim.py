# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `sim` family: virtual radios of the over-the-air emulator."""

from ..cohere_python import virtual_radio_sink_c, virtual_radio_source_c
from ..testbed import make_testbed
from . import Radio, RadioError


def make_hub(testbed, **overrides):
    """Build the channel_hub of a testbed: per-node oscillators, positions,
    latencies from the nodes; the `emulator` section for the rest.
    `loopback_db` gives every node a TX->RX leakage path at that level."""
    return make_testbed(len(testbed.nodes), testbed.fs, testbed.fc,
                        **hub_options(testbed, **overrides))


def hub_options(testbed, **overrides):
    """The make_testbed keyword arguments of a testbed's hub (what
    pcp.run_network takes as `testbed` to run the same air in one process)."""
    nodes = testbed.nodes
    opts = dict(testbed.emulator)
    opts.update(overrides)
    loopback_db = opts.pop("loopback_db", None)
    kw = dict(
        seed=testbed.seed,
        antennas=[n.antennas for n in nodes],
        ppm=[n.ppm for n in nodes],
        phase_noise=[n.phase_noise for n in nodes],
        speed=[n.speed for n in nodes],
        angle=[n.angle for n in nodes],
        latency=[n.latency or 0 for n in nodes],
    )
    if all(n.position is not None for n in nodes):
        kw["positions"] = [n.position for n in nodes]
    per_node_noise = [n.noise_power for n in nodes]
    if any(v is not None for v in per_node_noise):
        default = float(opts.pop("noise_power", 0.0))
        kw["noise_power"] = [default if v is None else v for v in per_node_noise]
    kw.update(opts)
    if loopback_db is not None:
        import numpy as np
        gains = dict(kw.get("link_gain") or {})
        amp = 10 ** (float(loopback_db) / 20)
        for i, n in enumerate(nodes):
            gains.setdefault((i, i), amp * np.eye(n.antennas))
        kw["link_gain"] = gains
    return kw


def open_radio(testbed, node, hub=None, nsamples=0):
    if hub is None:
        raise RadioError(f"sim: node {node.id} needs the emulator hub (radio.make_hub(testbed))")
    index = testbed.index(node.id)
    try:
        src = virtual_radio_source_c(hub, index, node.antennas, int(nsamples))
        snk = virtual_radio_sink_c(hub, index, node.antennas)
    except ValueError as exc:
        raise RadioError(f"sim: node {node.id}: {exc}") from None
    return Radio(node_id=node.id, family="sim", source=src, sink=snk,
                 latency=hub.latency(index), nchan=node.antennas,
                 description=f"virtual radio, hub node {index}")


def open_remote(testbed, node, endpoint):
    """The node's virtual radio served by a `cohere hub` process (hubnet)."""
    from ..hubnet import HubConnection
    conn = HubConnection(endpoint, node.id, node.antennas)
    return Radio(node_id=node.id, family="sim", source=conn.source, sink=conn.sink,
                 latency=node.latency or 0, nchan=node.antennas,
                 description=f"virtual radio served by the hub at {endpoint}", connection=conn)
