# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `soapy` family: Iris, LimeSDR, bladeRF... through gr-soapy.

Same contract as the other families; the latency L comes from
calibrate-latency. The device arguments must name the driver
("driver=lime,serial=..."), so no network discovery happens.
"""

from . import Radio, RadioError, first_line
from .monitor import radio_monitor


def open_radio(testbed, node, hub=None, nsamples=0):
    from gnuradio import soapy
    args = node.args
    n = node.antennas
    try:
        src = soapy.source(args, "fc32", n, "", "", [""] * n, [""] * n)
        snk = soapy.sink(args, "fc32", n, "", "", [""] * n, [""] * n)
    except RuntimeError as exc:
        raise RadioError(f"soapy: cannot open device '{args}': {first_line(exc)}") from None
    try:
        for ch in range(n):
            for dev in (src, snk):
                dev.set_sample_rate(ch, testbed.fs)
                dev.set_frequency(ch, testbed.fc)
            if node.rx_gain is not None:
                src.set_gain(ch, node.rx_gain)
            if node.tx_gain is not None:
                snk.set_gain(ch, node.tx_gain)
    except RuntimeError as exc:
        raise RadioError(f"soapy: configuring device '{args}' failed: {first_line(exc)}") from None
    # no timestamps from this driver: watch the sample count against the clock
    monitor = radio_monitor(f"soapy node {node.id}", samp_rate=testbed.fs)
    return Radio(node_id=node.id, family="soapy", source=src, sink=snk, latency=node.latency,
                 monitor=monitor,
                 nchan=n, description=f"SoapySDR '{args}'")
