# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Build a configured over-the-air emulator (channel_hub) from keyword arguments.

This is what the GRC "Virtual Testbed" block, the apps and the tests use. Every
per-node argument takes one value for all nodes or a sequence of num_nodes
values; every error is a ValueError naming the argument and the value.
"""

import math
import numbers
from collections.abc import Mapping, Sequence

import numpy as np

from .cohere_python import channel_hub

__all__ = ["make_testbed", "per_node", "run_flowgraph", "simulate"]


def _scalar(value):
    """A NumPy array of one element as its element (0-d or size 1, as
    rng.normal(size=1) gives); anything else unchanged."""
    if isinstance(value, np.ndarray) and value.size == 1:
        return value.reshape(()).item()
    return value


def _real(name, value):
    """A real number (int, float, a NumPy scalar or one-element array, or a
    complex with zero imaginary part) as float; ValueError naming the
    argument and the value otherwise."""
    value = _scalar(value)
    if isinstance(value, (complex, np.complexfloating)) and value.imag == 0:
        value = value.real
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Number, np.number)) \
            or isinstance(value, (complex, np.complexfloating)):
        raise ValueError(f"{name}: expected a real number, got {value!r}")
    try:
        return float(value)  # Decimal and Fraction too
    except OverflowError:
        raise ValueError(f"{name}: {value!r} is beyond a double's range") from None


def _integer(name, value, lo=None, hi=None):
    """An integer (int, a NumPy integer, or a float with an integral value) in
    [lo, hi]; ValueError naming the argument and the value otherwise."""
    value = _scalar(value)
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if isinstance(value, (numbers.Integral, np.integer)):
        out = int(value)
    elif isinstance(value, (numbers.Number, np.floating)) \
            and not isinstance(value, (complex, np.complexfloating)) \
            and math.isfinite(float(value)) and float(value) == int(value):
        out = int(value)  # 2.0, Fraction(2), Decimal('2')
    else:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    if (lo is not None and out < lo) or (hi is not None and out > hi):
        raise ValueError(f"{name}: must be in {lo}..{hi}, got {out}")
    return out


def _complexes(name, values):
    """A scalar or a sequence of complex numbers as a list of complex."""
    out = []
    for v in np.atleast_1d(np.asarray(values, dtype=object)).ravel():
        v = _scalar(v)
        if isinstance(v, (str, bytes, bool, np.bool_)) or not isinstance(v, (numbers.Number,
                                                                           np.number)):
            raise ValueError(f"{name}: expected complex numbers, got {v!r}")
        c = complex(v)
        if not (math.isfinite(c.real) and math.isfinite(c.imag)):
            raise ValueError(f"{name}: values must be finite, got {c!r}")
        out.append(c)
    return out


def per_node(name, value, num_nodes, cast=float):
    """Broadcast a scalar or check a per-node sequence; returns a list.

    cast: float (real numbers) or int (integers; integral floats accepted);
    anything else is a ValueError naming the argument, the node and the value.
    """
    if isinstance(value, (str, bytes)):
        raise ValueError(f"{name}: expected a number or {num_nodes} numbers, got {value!r}")
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()  # a NumPy scalar in array form: one value for all
    if isinstance(value, (Sequence, np.ndarray)):
        values = list(np.asarray(value, dtype=object).ravel()) \
            if isinstance(value, np.ndarray) else list(value)
        if len(values) != num_nodes:
            raise ValueError(
                f"{name}: expected 1 or {num_nodes} values (one per node), got {len(values)}")
        label = [f"{name}[{i}]" for i in range(num_nodes)]
    else:
        values = [value] * num_nodes
        label = [name] * num_nodes
    if cast is int:
        return [_integer(label[i], v) for i, v in enumerate(values)]
    if cast is float:
        return [_real(label[i], v) for i, v in enumerate(values)]
    try:
        return [cast(v) for v in values]
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name}: {exc}") from None


def _pairs(name, value, num_nodes):
    """Normalize a per-link argument to {(tx, rx): entry}.

    Accepts a dict keyed by (tx, rx) or, for scalar-per-link values, an
    num_nodes x num_nodes array indexed [tx][rx] that must be symmetric (the air
    is reciprocal). Of the array's diagonal, the non-zero entries are self
    links (i, i) (loopback or leakage); the zeros are no entry.
    """
    if value is None:
        return {}
    if isinstance(value, Mapping):
        out = {}
        for key, entry in value.items():
            try:
                tx, rx = (_integer(name, k) for k in key)
            except (TypeError, ValueError):
                raise ValueError(f"{name}: keys must be (tx, rx) pairs, got {key!r}") from None
            for node in (tx, rx):
                if not 0 <= node < num_nodes:
                    raise ValueError(f"{name}: unknown node {node} in key {key!r}")
            out[(tx, rx)] = entry
        return out
    try:
        arr = np.asarray(value, dtype=complex)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a dict or a {num_nodes}x{num_nodes} matrix of "
                         f"numbers, got {value!r}") from None
    if arr.shape != (num_nodes, num_nodes):
        raise ValueError(
            f"{name}: expected a dict or a {num_nodes}x{num_nodes} matrix, got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if len(bad):
        i, j = bad[0]
        raise ValueError(f"{name}: entry [{i}][{j}] must be finite, got {arr[i, j]!r}")
    if not np.allclose(arr, arr.T):
        i, j = np.argwhere(~np.isclose(arr, arr.T))[0]
        raise ValueError(f"{name}: the matrix must be symmetric (the air is reciprocal), got "
                         f"{arr[i, j]!r} at [{i}][{j}] and {arr[j, i]!r} at [{j}][{i}]")
    if np.all(arr.imag == 0):
        arr = arr.real
    out = {(i, j): arr[i, j] for i in range(num_nodes) for j in range(i + 1, num_nodes)}
    out.update({(i, i): arr[i, i] for i in range(num_nodes) if arr[i, i] != 0})
    return out


def make_testbed(num_nodes, samp_rate, center_freq, seed=0, antennas=1,
                 ppm=0.0, phase_noise=0.0, initial_phase=None, sfo=False,
                 noise_power=0.0, tx_gains=None, rx_gains=None,
                 chain_gain_std_db=1.0, chain_phase_spread=math.pi,
                 link_gain=None, link_delay=None, link_taps=None,
                 positions=None, path_loss_exponent=2.0, ref_loss_db=40.0,
                 ref_distance=1.0, shadowing_db=0.0, rayleigh=False,
                 speed=0.0, angle=0.0, half_duplex=False, leakage_db=-math.inf, latency=0,
                 buffer_size=None, capture=None):
    """Create and configure a channel_hub.

    Args:
        num_nodes: number of nodes (1..64).
        samp_rate, center_freq: common fs and fc in Hz.
        seed: seed of every random draw (LO phases, chain gains, noise...).
        antennas: antennas per node (scalar or per node), 1..8.
        ppm: oscillator offset per node; CFO = ppm 1e-6 fc.
        phase_noise: Wiener constant c (s) per node; increment variance
            4 pi^2 fc^2 c / fs.
        initial_phase: LO phase per node (rad); default random from the seed.
        sfo: also model the sampling-frequency offset of each crystal.
        noise_power: AWGN power per receive antenna (linear), per node.
        tx_gains, rx_gains: {node: [gain per antenna]} explicit chain gains;
            others are drawn with chain_gain_std_db / chain_phase_spread.
        link_gain: {(tx, rx): matrix nrx x ntx} or symmetric NxN array (1
            antenna) of air gains; sets both directions (reciprocal). A self
            link (i, i) (the array's non-zero diagonal entries) is loopback or
            leakage between a node's own antennas; its matrix must be
            symmetric.
        link_delay: {(tx, rx): samples} or symmetric NxN array or scalar.
        link_taps: {(tx, rx): (delays, gains)} extra multipath paths.
        positions: [(x, y), ...] in metres: enables log-distance path loss
            (path_loss_exponent, ref_loss_db at ref_distance, shadowing_db),
            carrier phase and propagation delay.
        rayleigh: CN(0, 1) small-scale term per antenna pair (reciprocal).
        speed, angle: per node, m/s and rad, for the Doppler phase.
        half_duplex, leakage_db: a transmitting node hears only its own
            leakage (-inf: nothing).
        latency: radio latency L per node (samples): TX sample n leaves
            when RX sample n + L arrives (real radios' time model).
        buffer_size: TX history ring per antenna (samples, 16384..2^26;
            None: 32768). It must exceed the longest link delay plus the
            look-ahead of the nodes' schedulers.
        capture: receivers whose per-transmitter components are recorded:
            {node: max_samples} or a list of nodes (1e6 samples each).

    Returns:
        the configured channel_hub.
    """
    num_nodes = _integer("num_nodes", num_nodes, 1, 64)
    ants = per_node("antennas", antennas, num_nodes, int)
    hub = channel_hub(num_nodes, _real("samp_rate", samp_rate), _real("center_freq", center_freq),
                      _integer("seed", seed, 0, 2**64 - 1), ants)

    for node, v in enumerate(per_node("ppm", ppm, num_nodes)):
        hub.set_ppm(node, v)
    for node, v in enumerate(per_node("phase_noise", phase_noise, num_nodes)):
        hub.set_phase_noise(node, v)
    if initial_phase is not None:
        for node, v in enumerate(per_node("initial_phase", initial_phase, num_nodes)):
            hub.set_initial_phase(node, v)
    hub.set_sfo_enabled(bool(sfo))
    for node, v in enumerate(per_node("noise_power", noise_power, num_nodes)):
        hub.set_noise_power(node, v)
    hub.set_chain_gain_spread(_real("chain_gain_std_db", chain_gain_std_db),
                              _real("chain_phase_spread", chain_phase_spread))
    for name, gains, setter in (("tx_gains", tx_gains, hub.set_tx_gains),
                                ("rx_gains", rx_gains, hub.set_rx_gains)):
        if gains is None:
            continue
        if not isinstance(gains, Mapping):
            raise ValueError(f"{name}: expected {{node: [gain per antenna]}}, got {gains!r}")
        for node, g in gains.items():
            node = _integer(f"{name} node", node)
            setter(node, _complexes(f"{name}[{node}]", g))

    # checked even without positions, so that a bad value never goes
    # unnoticed (None, without positions, means unused)
    path_loss = dict(path_loss_exponent=path_loss_exponent, ref_loss_db=ref_loss_db,
                     ref_distance=ref_distance, shadowing_db=shadowing_db)
    if positions is not None or all(v is not None for v in path_loss.values()):
        hub.set_path_loss(*(_real(k, v) for k, v in path_loss.items()))
    if positions is not None:
        try:
            pos = np.asarray(positions, dtype=float)
        except (TypeError, ValueError):
            raise ValueError(f"positions: expected {num_nodes} (x, y) pairs of numbers, "
                             f"got {positions!r}") from None
        if pos.shape != (num_nodes, 2):
            raise ValueError(f"positions: expected {num_nodes} (x, y) pairs, got shape {pos.shape}")
        hub.set_positions(list(pos[:, 0]), list(pos[:, 1]))
    hub.set_rayleigh(bool(rayleigh))
    if positions is not None:
        for i in range(num_nodes):
            for j in range(i + 1, num_nodes):
                g = np.asarray(hub.link_gain(i, j), dtype=complex)
                if not np.all(np.isfinite(g)):
                    raise ValueError(f"ref_loss_db: the path loss gives node {i} -> {j} a "
                                     f"non-finite air gain (ref_loss_db {ref_loss_db!r}, "
                                     f"path_loss_exponent {path_loss_exponent!r})")

    for (tx, rx), g in _pairs("link_gain", link_gain, num_nodes).items():
        values = _complexes(f"link_gain[{(tx, rx)}]", g)
        shape = (hub.num_antennas(rx), hub.num_antennas(tx))
        if len(values) != shape[0] * shape[1]:
            raise ValueError(f"link_gain[{(tx, rx)}]: expected a {shape[0]}x{shape[1]} matrix "
                             f"(rx antennas x tx antennas), got {len(values)} values")
        hub.set_link_gain(tx, rx, values)
    if link_delay is not None and not isinstance(link_delay, Mapping) \
            and np.ndim(link_delay) == 0:  # one delay for every link
        delay = _real("link_delay", link_delay)
        for i in range(num_nodes):
            for j in range(i + 1, num_nodes):
                hub.set_link_delay(i, j, delay)
    else:
        for (tx, rx), d in _pairs("link_delay", link_delay, num_nodes).items():
            hub.set_link_delay(tx, rx, _real(f"link_delay[{(tx, rx)}]", d))
    for (tx, rx), entry in _pairs("link_taps", link_taps, num_nodes).items():
        try:
            delays, gains = entry
        except (TypeError, ValueError):
            raise ValueError(f"link_taps[{(tx, rx)}]: expected (delays, gains), "
                             f"got {entry!r}") from None
        hub.set_link_taps(tx, rx,
                          [_real(f"link_taps[{(tx, rx)}] delay", d) for d in np.atleast_1d(delays)],
                          _complexes(f"link_taps[{(tx, rx)}] gains", gains))

    speeds = per_node("speed", speed, num_nodes)
    angles = per_node("angle", angle, num_nodes)
    for node in range(num_nodes):
        hub.set_velocity(node, speeds[node], angles[node])
    hub.set_half_duplex(bool(half_duplex), _real("leakage_db", leakage_db))
    for node, v in enumerate(per_node("latency", latency, num_nodes, int)):
        hub.set_latency(node, v)
    if buffer_size is not None:
        hub.set_buffer_size(_integer("buffer_size", buffer_size, 1, 2**62))
    if capture is not None:
        if isinstance(capture, (numbers.Integral, np.integer)):
            capture = [capture]  # one node
        requests = capture if isinstance(capture, Mapping) else {n: 1_000_000 for n in capture}
        for node, size in requests.items():
            hub.enable_capture(_integer("capture node", node),
                               _integer(f"capture[{node}]", size, 1, 2**62))
    return hub


def run_flowgraph(tb, max_noutput_items=None):
    """tb.run() (with max_noutput_items when given, e.g. to show that a result
    does not depend on how GNU Radio cuts the streams); returns the wall time (s)."""
    import time

    t0 = time.monotonic()
    if max_noutput_items:
        tb.run(int(max_noutput_items))
    else:
        tb.run()
    return time.monotonic() - t0


def simulate(hub, tx, nsamples, rx_nodes=None, max_noutput_items=None, relays=None):
    """Run a finite emulator scenario in one flowgraph and return what was received.

    Args:
        hub: a channel_hub that has not streamed yet (a hub serves one run).
        tx: {node: samples} where samples is a 1-D array (single antenna) or a
            list/2-D array with one row per antenna; transmitted from sample 0,
            zeros afterwards.
        nsamples: RX samples to collect per receiving node.
        rx_nodes: nodes to receive at (default: all).
        max_noutput_items: passed to top_block.run (None: GNU Radio's default).
        relays: {node: gain}: the node retransmits what it receives, times
            gain, sample for sample (an amplify-and-forward relay with no
            processing delay); such a node must not be in tx.

    Returns:
        {node: complex array of shape (num_antennas(node), nsamples)}.
    """
    from gnuradio import blocks, gr

    from .cohere_python import virtual_radio_sink_c, virtual_radio_source_c

    nodes = range(hub.num_nodes())
    rx_nodes = list(nodes) if rx_nodes is None else [int(n) for n in rx_nodes]
    relays = relays or {}
    for a in relays:
        for b in relays:
            if not any(g != 0 for g in hub.link_gain(int(a), int(b))):
                continue
            # A relay sends its RX sample n as its TX sample n: a relay that
            # hears one (or itself) needs that TX sample strictly in the past.
            # An integer delay of 1 sample does; a fractional one (windowed
            # sinc, 16 samples on each side), or a resampled one (SFO), needs
            # 17 samples; less and each waits for the other forever.
            delay = hub.link_delay(int(a), int(b)) + hub.latency(int(a))
            causal = delay >= 17 or (delay >= 1 and float(delay).is_integer()
                                     and not hub.sfo_enabled())
            if not causal:
                raise ValueError(
                    f"relays: nodes {a} and {b} relay with no processing delay and "
                    f"{'hear themselves' if a == b else 'hear each other'} within {delay:g} "
                    f"samples: each needs the other's samples not yet sent (a loop needs "
                    f"a delay of at least 1 sample, 17 if fractional or with SFO)")
    tb = gr.top_block("cohere_simulate")
    keep = []
    for node, samples in tx.items():
        rows = np.atleast_2d(np.asarray(samples, dtype=np.complex64))
        nant = hub.num_antennas(node)
        if rows.shape[0] != nant:
            raise ValueError(f"tx[{node}]: {rows.shape[0]} antenna rows, node has {nant}")
        if node in relays:
            raise ValueError(f"node {node} is both a transmitter and a relay")
        sink = virtual_radio_sink_c(hub, int(node), nant)
        for a in range(nant):
            src = blocks.vector_source_c(rows[a].tolist(), False)
            tb.connect(src, (sink, a))
            keep.append(src)
        keep.append(sink)
    sinks = {}
    for node in set(rx_nodes) | set(relays):
        nant = hub.num_antennas(node)
        src = virtual_radio_source_c(hub, int(node), nant, int(nsamples))
        if node in relays:
            relay_sink = virtual_radio_sink_c(hub, int(node), nant)
            for a in range(nant):
                amp = blocks.multiply_const_cc(complex(relays[node]))
                tb.connect((src, a), amp, (relay_sink, a))
                keep.append(amp)
        if node in rx_nodes:
            sinks[node] = []
            for a in range(nant):
                vs = blocks.vector_sink_c()
                tb.connect((src, a), vs)
                sinks[node].append(vs)
        keep.append(src)
    run_flowgraph(tb, max_noutput_items)
    return {node: np.array([np.asarray(v.data(), dtype=np.complex64) for v in vs])
            for node, vs in sinks.items()}
