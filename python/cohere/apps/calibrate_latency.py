# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Measure a node's TX-to-RX latency L (samples) through a loopback and store it.

The node transmits a Zadoff-Chu burst every `period` samples from its own TX
stream and detects the bursts in its own RX stream (loopback cable with an
attenuator, or TX->RX leakage; on the emulator the testbed's `loopback_db`
self link, -20 dB unless given). Burst k sent at TX index t_k and found at RX
index r_k gives L_k = r_k - t_k (the time model: TX sample n leaves when RX
sample n + L arrives). Prints L with its spread over the trials, writes JSON,
and with --write stores L in the testbed file. L must be below --max-latency.

Valid until the radio restarts, underflows or overflows: measure again then.
"""

import argparse
import json
import os
import sys

import numpy as np

from ..radio import RadioError, make_hub, open_radio
from .common import results_dir, unit_float
from ..testbed_file import TestbedError, load_testbed, store_latency

ZC_LEN, ZC_ROOT = 251, 7


def zadoff_chu(root, length):
    n = np.arange(length)
    return np.exp(-1j * np.pi * root * n * (n + 1) / length).astype(np.complex64)


def add_arguments(parser):
    parser.add_argument("--config", required=True, help="testbed file (YAML)")
    parser.add_argument("--node", type=int, required=True, help="node id to calibrate")
    g = parser.add_argument_group("measurement")
    g.add_argument("--trials", type=int, default=10, help="bursts (default %(default)s)")
    g.add_argument("--max-latency", type=int, default=20000,
                   help="largest latency searched, samples (default %(default)s)")
    g.add_argument("--amplitude", type=unit_float, default=0.5,
                   help="burst amplitude, in (0, 1] of full scale (default %(default)s)")
    g = parser.add_argument_group("output")
    g.add_argument("--write", action="store_true", help="store the measured L in the testbed file")
    g.add_argument("--json", help="JSON result file (default: <results>/calibrate_latency_<node>.json)")


def measure(rx, starts, burst, max_latency):
    """Per-burst latency from the RX stream: peak of the normalized
    correlation after each burst's TX index, with parabolic refinement."""
    n = len(burst)
    nfft = 1 << int(np.ceil(np.log2(len(rx) + n)))
    corr = np.fft.ifft(np.fft.fft(rx, nfft) * np.conj(np.fft.fft(burst, nfft)))[:len(rx)]
    mag = np.abs(corr)
    out = []
    for t in starts:
        lo, hi = t, min(t + max_latency + 1, len(rx) - n)
        if hi <= lo:
            break
        k = lo + int(np.argmax(mag[lo:hi]))
        frac = 0.0
        if lo < k < hi - 1:
            a, b, c = mag[k - 1], mag[k], mag[k + 1]
            den = a - 2 * b + c
            frac = 0.5 * (a - c) / den if den != 0 else 0.0
        energy = np.sqrt(np.sum(np.abs(rx[k:k + n]) ** 2) * np.sum(np.abs(burst) ** 2))
        out.append({"tx_index": int(t), "rx_index": k + frac, "latency": k + frac - t,
                    "metric": float(mag[k] / energy) if energy > 0 else 0.0})
    return out


def run(args):
    from gnuradio import blocks, gr
    try:
        testbed = load_testbed(args.config)
        node = testbed.node(args.node)
    except TestbedError as exc:
        print(f"cohere calibrate-latency: {exc}", file=sys.stderr)
        return 2
    if args.trials < 1 or args.max_latency < 1:
        print("cohere calibrate-latency: --trials and --max-latency must be >= 1", file=sys.stderr)
        return 2
    burst = args.amplitude * zadoff_chu(ZC_ROOT, ZC_LEN)
    period = args.max_latency + 2 * ZC_LEN
    lead = 1000
    starts = [lead + k * period for k in range(args.trials)]
    total = lead + args.trials * period + ZC_LEN
    tx = np.zeros(total, np.complex64)
    for t in starts:
        tx[t:t + ZC_LEN] = burst
    hub = None
    if node.radio == "sim":
        loopback = testbed.emulator.get("loopback_db", -20.0)
        hub = make_hub(testbed, loopback_db=loopback)
    try:
        radio = open_radio(testbed, node.id, hub=hub, nsamples=total)
    except RadioError as exc:
        print(f"cohere calibrate-latency: {exc}", file=sys.stderr)
        return 1
    tb = gr.top_block("calibrate_latency")
    src = blocks.vector_source_c(tx.tolist(), False)
    tb.connect(src, (radio.sink, 0))
    for ch in range(1, radio.nchan):
        tb.connect(blocks.null_source(gr.sizeof_gr_complex), blocks.head(gr.sizeof_gr_complex, total),
                   (radio.sink, ch))
    head = blocks.head(gr.sizeof_gr_complex, total)
    sink = blocks.vector_sink_c()
    tb.connect((radio.source, 0), head, sink)
    for ch in range(1, radio.nchan):
        tb.connect((radio.source, ch), blocks.null_sink(gr.sizeof_gr_complex))
    tb.run()
    rx = np.asarray(sink.data(), np.complex64)
    trials = measure(rx, starts, burst, args.max_latency)
    good = [t for t in trials if t["metric"] > 0.5]
    if not good:
        print(f"cohere calibrate-latency: node {node.id}: no burst found in its RX "
              f"(check the loopback path and gains)", file=sys.stderr)
        return 1
    lat = np.array([t["latency"] for t in good])
    latency = int(np.round(np.median(lat)))
    result = {
        "node": node.id, "family": node.radio, "device": radio.description,
        "latency": latency, "latency_fractional_mean": float(np.mean(lat)),
        "spread_samples": float(np.max(lat) - np.min(lat)), "std_samples": float(np.std(lat)),
        "trials": len(trials), "detected": len(good), "per_trial": trials,
    }
    print(f"node {node.id} ({radio.description}): L = {latency} samples "
          f"(mean {np.mean(lat):.3f}, spread {result['spread_samples']:.3f}, "
          f"std {result['std_samples']:.3f} over {len(good)}/{len(trials)} bursts)")
    out = args.json or os.path.join(results_dir(), f"calibrate_latency_{node.id}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {out}")
    if args.write:
        store_latency(args.config, node.id, latency, result["spread_samples"])
        print(f"stored latency {latency} for node {node.id} in {args.config}")
    return 0


def main(argv=None):
    parser = argparse.ArgumentParser(prog="cohere calibrate-latency", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
