# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The `pluto` family: ADALM-Pluto through gr-iio.

Stock firmware has no timed TX/RX: once both stream continuously from one
clock the TX-to-RX offset L is constant until an underflow/overflow or restart,
so L comes from calibrate-latency and must be measured again after any of
those. Gains are manual (no AGC: it would change the phase between steps).
The URI must name the device ("usb:1.5.5", "ip:pluto.local"): no scanning.
TX gain is attenuation: tx_gain is 0 or negative (attenuation = -tx_gain, the
AD936x's 0..89.75 dB).
"""

import math
import numbers

from . import PLUTO_MAX_ATTENUATION as MAX_ATTENUATION
from . import Radio, RadioError, first_line
from .monitor import radio_monitor


class PlutoConfigError(RadioError, ValueError):
    """An invalid Pluto setting (a RadioError for the apps, a ValueError
    naming the field and value)."""


def check_node(node):
    """Raise PlutoConfigError naming the field if the node's settings are not
    ones the ADALM-Pluto can take (before any device is opened)."""
    where = f"pluto: node {node.id}"
    if node.antennas != 1:
        raise PlutoConfigError(f"{where}: antennas: the ADALM-Pluto has 1 antenna, "
                               f"got {node.antennas!r}")
    for key in ("tx_gain", "rx_gain"):
        value = getattr(node, key)
        if value is not None and (isinstance(value, bool) or not isinstance(value, numbers.Real)
                                  or not math.isfinite(value)):
            raise PlutoConfigError(f"{where}: {key} must be a finite number of dB, got {value!r}")
    if node.tx_gain is not None and not -MAX_ATTENUATION <= node.tx_gain <= 0:
        raise PlutoConfigError(f"{where}: tx_gain must be in -{MAX_ATTENUATION:g}..0 dB "
                               f"(attenuation = -tx_gain), got {node.tx_gain!r}")
    size = node.buffer_size
    if isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 1:
        raise PlutoConfigError(f"{where}: buffer_size must be an integer >= 1, got {size!r}")


def open_radio(testbed, node, hub=None, nsamples=0):
    check_node(node)
    from gnuradio import iio
    uri = node.uri
    try:
        src = iio.fmcomms2_source_fc32(uri, [True, True], node.buffer_size)
        snk = iio.fmcomms2_sink_fc32(uri, [True, True], node.buffer_size, False)
    except RuntimeError as exc:
        raise RadioError(f"pluto: cannot open device '{uri}': {first_line(exc)}") from None
    try:
        src.set_len_tag_key("")
        snk.set_len_tag_key("")  # continuous stream: buffer size = packet size
        for dev in (src, snk):
            dev.set_frequency(int(testbed.fc))
            dev.set_samplerate(int(testbed.fs))
        src.set_gain_mode(0, "manual")
        src.set_gain(0, 30.0 if node.rx_gain is None else node.rx_gain)
        src.set_quadrature(True)
        src.set_rfdc(True)
        src.set_bbdc(True)
        snk.set_attenuation(0, 10.0 if node.tx_gain is None else 0.0 - float(node.tx_gain))
    except RuntimeError as exc:
        raise RadioError(f"pluto: configuring device '{uri}' failed: {first_line(exc)}") from None
    # no timestamps from this driver: watch the sample count against the clock
    monitor = radio_monitor(f"pluto node {node.id}", samp_rate=testbed.fs)
    return Radio(node_id=node.id, family="pluto", source=src, sink=snk, latency=node.latency,
                 monitor=monitor,
                 nchan=1, description=f"ADALM-Pluto '{uri}'")
