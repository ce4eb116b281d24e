# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Throughput of the streaming DSP core next to GNU Radio's own blocks.

Each measurement is one flowgraph null_source -> head(S) -> block -> null_sink
in this process; only tb.run() is timed and the best of `repeat` runs is
kept (the machine may be shared). Each of our blocks is timed alternately
with its GNU Radio counterpart doing comparable work, and the ratio is
ours / theirs (>= 0.9 is the target for the derotator and the precoder):

| block              | baseline                 | same work                          |
|--------------------|--------------------------|------------------------------------|
| cfo_derotator_cc   | blocks.rotator_cc        | one complex rotation per sample    |
| phase_precoder_cc  | blocks.multiply_const_cc | one complex product per sample     |
| burst_scheduler_cc | blocks.copy              | one output sample per input sample |

The derotator keeps its phase in double precision (error < 3.5e-7 rad at
any sample); rotator_cc accumulates a single-precision phasor. The burst
scheduler runs with an empty queue (zeros out), D = 1024.

`run()` is the entry point for `cohere bench`; `python3 -m
gnuradio.cohere.apps.bench_dsp [--quick] [--json FILE]` runs it alone.
"""

import argparse
import json
import math
import os
import sys
import time

SAMP_RATE = 1e6
CFO_HZ = 12345.678
PHASE, GAIN = 0.7, 0.9


def _pairs():
    """(name, factory, baseline name, baseline factory) per block."""
    from gnuradio import blocks, gr

    from gnuradio import cohere

    return [
        ("cfo_derotator_cc", lambda: cohere.cfo_derotator_cc(SAMP_RATE, CFO_HZ),
         "blocks.rotator_cc", lambda: blocks.rotator_cc(-2 * math.pi * CFO_HZ / SAMP_RATE)),
        ("phase_precoder_cc", lambda: cohere.phase_precoder_cc(PHASE, GAIN),
         "blocks.multiply_const_cc",
         lambda: blocks.multiply_const_cc(GAIN * complex(math.cos(PHASE), math.sin(PHASE)))),
        ("burst_scheduler_cc", lambda: cohere.burst_scheduler_cc(SAMP_RATE, 1024),
         "blocks.copy", lambda: blocks.copy(gr.sizeof_gr_complex)),
    ]


def time_block(factory, samples):
    """Seconds for `samples` items through null_source -> head -> block -> null_sink."""
    from gnuradio import blocks, gr

    tb = gr.top_block("bench_dsp")
    block = factory()
    tb.connect(blocks.null_source(gr.sizeof_gr_complex), blocks.head(gr.sizeof_gr_complex, samples),
               block, blocks.null_sink(gr.sizeof_gr_complex))
    t0 = time.perf_counter()
    tb.run()
    return time.perf_counter() - t0


def run(json_path=None, quick=False, samples=None, repeat=None):
    """Measure every block next to its baseline.

    Args:
        json_path: write the rows there as a JSON list (directories created).
        quick: a short smoke run (2e6 samples, one repeat; numbers not meaningful).
        samples, repeat: override the defaults (5e7 samples, best of 3).

    Returns:
        a list of {"block", "msps", "baseline", "baseline_msps", "ratio",
        "samples", "repeat"} dicts (Msps = 1e6 samples per second).
    """
    samples = int(samples or (2_000_000 if quick else 50_000_000))
    repeat = int(repeat or (1 if quick else 3))
    rows = []
    for name, make, base_name, make_base in _pairs():
        ours, theirs = [], []
        for _ in range(repeat):  # alternate, so both see the same machine load
            ours.append(time_block(make, samples))
            theirs.append(time_block(make_base, samples))
        msps = samples / min(ours) / 1e6
        base = samples / min(theirs) / 1e6
        rows.append({"block": name, "msps": msps, "baseline": base_name, "baseline_msps": base,
                     "ratio": msps / base, "samples": samples, "repeat": repeat})
    if json_path:
        directory = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(directory, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


def format_table(rows):
    lines = [f"{'block':<20} {'Msps':>9}  {'baseline':<26} {'Msps':>9} {'ratio':>7}"]
    for r in rows:
        lines.append(f"{r['block']:<20} {r['msps']:9.1f}  {r['baseline']:<26} "
                     f"{r['baseline_msps']:9.1f} {r['ratio']:7.3f}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench_dsp", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short smoke run")
    p.add_argument("--samples", type=int, default=None, help="samples per run (default 5e7)")
    p.add_argument("--repeat", type=int, default=None, help="runs per block, best kept (default 3)")
    p.add_argument("--json", default=None, metavar="FILE", help="write the rows as JSON")
    args = p.parse_args(argv)
    if args.samples is not None and args.samples <= 0:
        p.error("--samples must be positive")
    if args.repeat is not None and args.repeat <= 0:
        p.error("--repeat must be positive")
    rows = run(args.json, args.quick, args.samples, args.repeat)
    print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
