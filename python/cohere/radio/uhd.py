# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `uhd` family: USRP B2xx/X3xx/N3xx through gr-uhd.

TX streams continuously (zeros between bursts) and starts at the same device
time as RX, so TX sample n leaves at t0 + n / fs + L / fs with L the fixed
pipeline latency that calibrate-latency measures. Device arguments should name
the device (e.g. "type=b200,serial=..."): empty arguments make UHD search
every network interface as well.

The radio comes with a radio_monitor (radio.attach(tb) wires it): RX
overflows (an rx_time tag after sample 0) and the sink's asynchronous reports
(underflow, sequence and time errors, i.e. late bursts) are recorded, logged,
and invalidate L from that sample on.
"""

from . import Radio, RadioError, first_line
from .monitor import radio_monitor

START_DELAY_S = 1.0  # RX and TX start together this long after the time reset


def device_args(node):
    args = node.args
    if node.serial and "serial=" not in args:
        args = ",".join(a for a in (args, f"serial={node.serial}") if a)
    return args


def open_radio(testbed, node, hub=None, nsamples=0):
    from gnuradio import uhd
    args = device_args(node)
    channels = list(range(node.antennas))
    try:
        src = uhd.usrp_source(args, uhd.stream_args(cpu_format="fc32", channels=channels))
        snk = uhd.usrp_sink(args, uhd.stream_args(cpu_format="fc32", channels=channels), "")
    except RuntimeError as exc:
        raise RadioError(f"uhd: cannot open device '{args}': {first_line(exc)}") from None
    try:
        for dev in (src, snk):
            dev.set_samp_rate(testbed.fs)
        for ch in channels:
            src.set_center_freq(testbed.fc, ch)
            snk.set_center_freq(testbed.fc, ch)
            if node.rx_gain is not None:
                src.set_gain(node.rx_gain, ch)
            if node.tx_gain is not None:
                snk.set_gain(node.tx_gain, ch)
        src.set_time_now(uhd.time_spec(0.0))
        start = uhd.time_spec(START_DELAY_S)
        src.set_start_time(start)
        snk.set_start_time(start)
    except RuntimeError as exc:
        raise RadioError(f"uhd: configuring device '{args}' failed: {first_line(exc)}") from None
    monitor = radio_monitor(f"uhd node {node.id}")
    return Radio(node_id=node.id, family="uhd", source=src, sink=snk, latency=node.latency,
                 nchan=node.antennas, description=f"USRP '{args}'", monitor=monitor,
                 messages=[(snk, "async_msgs", monitor, "async")])
