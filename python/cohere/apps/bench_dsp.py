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

Every pair is measured twice: on all usable CPUs (the plain flowgraph, as
a GNU Radio user runs it: the issue's measurement) and pinned to one CPU
(CPU cost per sample: on a small shared machine the two-CPU numbers swing
with how the four threads happen to be scheduled). Each row carries both.

Each measurement also times the baseline a second time, alternating with
the other two, and reports baseline / baseline ("control", an A/A ratio:
1.0 on a quiet, well-behaved machine). Its distance from 1 is what the
measurement can resolve: on a 2-CPU VM the all-CPU control of best-of-5
ranged 0.82-1.45 for two identical multiply_const_cc flowgraphs, so a
ratio within that distance of its target is reported as not resolved.
The ratio of the medians of the runs is reported next to the ratio of
the bests.

On all CPUs each run lands in one of two rates: 130-140 or 200-240 Msps
for all three flowgraphs of the precoder pair on the 2-CPU VM, the fast
one in 9, 8 and 9 of 24 runs (p about 0.36, the same for our block, the
baseline and the control). The best of 5 then misses the fast rate for one
side in about one measurement of ten, and the ratio comes out near 0.65 or
1.5 whatever the blocks do (seen: 0.63-1.31 for the precoder, 0.79-1.25 for
the A/A control). So the all-CPU measurement takes ALL_CPU_FACTOR times
more runs (the best of 15 misses with probability 0.64^15 = 0.1 %); pinned
runs have one rate, and `repeat` of them suffice.

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
import statistics
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


def time_block(factory, samples, source=None):
    """Seconds for `samples` items through source -> head -> block -> null_sink
    (source: a factory of the source block; default blocks.null_source)."""
    from gnuradio import blocks, gr

    tb = gr.top_block("bench_dsp")
    block = factory()
    src = source() if source else blocks.null_source(gr.sizeof_gr_complex)
    tb.connect(src, blocks.head(gr.sizeof_gr_complex, samples),
               block, blocks.null_sink(gr.sizeof_gr_complex))
    t0 = time.perf_counter()
    tb.run()
    return time.perf_counter() - t0


TARGETS = {"cfo_derotator_cc": 0.9, "phase_precoder_cc": 0.9}
ALL_CPU_FACTOR = 3  # runs on all CPUs per pinned run (see the module docstring)


def runs_for(label, repeat):
    """Runs per flowgraph for a CPU set label of cpu_sets()."""
    return repeat * ALL_CPU_FACTOR if label == "all" else repeat


def cpu_sets():
    """[(label, CPUs)]: every usable CPU, then one (the last: CPU 0 tends to
    take the interrupts); [("all", None)] where affinity cannot be set."""
    if not hasattr(os, "sched_getaffinity"):
        return [("all", None)]
    usable = sorted(os.sched_getaffinity(0))
    return [("all", usable), ("one_core", usable[-1:])]


def alternating_times(factories, timer, repeat, cpus):
    """`repeat` timer(factory) seconds for each factory (a list per factory),
    run alternately (so all see the same machine load) on `cpus` (None: as
    is). The order rotates from one round to the next: on two CPUs a
    flowgraph run right after another one is measurably slower or faster by
    its position (the A/A control of the same block in the second and third
    place differed by 10 %, and our block always ran first)."""
    before = os.sched_getaffinity(0) if cpus is not None else None
    if cpus is not None:
        os.sched_setaffinity(0, cpus)  # the flowgraph threads inherit it
    try:
        times = [[] for _ in factories]
        n = len(factories)
        for r in range(repeat):
            for k in range(n):
                i = (r + k) % n
                times[i].append(timer(factories[i]))
        return times
    finally:
        if before is not None:
            os.sched_setaffinity(0, before)


def measure_pair(make, make_base, timer, repeat, cpus):
    """(ours, baseline, baseline again) run times for one CPU set: the third
    is the A/A control, timed alternately with the other two."""
    return tuple(alternating_times((make, make_base, make_base), timer, repeat, cpus))


def ratio_row(name, base_name, samples, repeat, timings, target=None):
    """The JSON row of one block: `timings` {label: (ours, theirs, control)}
    with "all" first, each a list of run times (s); the best run of each
    gives msps, baseline_msps and ratio, the medians median_ratio, and
    theirs / control the A/A control. The "all" numbers are the row's own,
    the others nested by label. With a target, "met" is ratio >= target and
    "resolved" whether the ratio is farther from the target than the
    control is from 1 (else the machine's noise could decide the verdict)."""
    row = {}
    for label, (ours, theirs, control) in timings.items():
        msps, base = samples / min(ours) / 1e6, samples / min(theirs) / 1e6
        ratio = msps / base
        part = {"msps": msps, "baseline_msps": base, "ratio": ratio,
                "median_ratio": statistics.median(theirs) / statistics.median(ours),
                "control_ratio": min(control) / min(theirs)}
        if target is not None:
            part["met"] = bool(ratio >= target)
            part["resolved"] = bool(abs(ratio - target) > abs(part["control_ratio"] - 1.0))
        if label == "all":
            row.update({"block": name, "msps": msps, "baseline": base_name,
                        "baseline_msps": base, "ratio": ratio,
                        "median_ratio": part["median_ratio"],
                        "control_ratio": part["control_ratio"]})
            if target is not None:
                row.update({"target_ratio": target, "met": part["met"],
                            "resolved": part["resolved"]})
        else:
            row[label] = part
    row.update({"samples": samples, "repeat": repeat,
                "repeat_all": runs_for("all", repeat) if "all" in timings else None})
    return row


def run(json_path=None, quick=False, samples=None, repeat=None):
    """Measure every block next to its baseline, on all CPUs and on one.

    Args:
        json_path: write the rows there as a JSON list (directories created).
        quick: a short smoke run (2e6 samples, one repeat; numbers not meaningful).
        samples, repeat: override the defaults (5e7 samples, best of 5).

    Returns:
        a list of {"block", "msps", "baseline", "baseline_msps", "ratio",
        "samples", "repeat", "repeat_all"} dicts (Msps = 1e6 samples per
        second; all usable CPUs, best of repeat_all = ALL_CPU_FACTOR *
        repeat runs), with "one_core": {"msps", "baseline_msps", "ratio"}
        pinned to one CPU (best of repeat), and "target_ratio", "met" where
        there is a target.
    """
    samples = int(samples or (2_000_000 if quick else 50_000_000))
    repeat = int(repeat or (1 if quick else 5))
    rows = []
    for name, make, base_name, make_base in _pairs():
        timings = {label: measure_pair(make, make_base, lambda f: time_block(f, samples),
                                       runs_for(label, repeat), cpus)
                   for label, cpus in cpu_sets()}
        rows.append(ratio_row(name, base_name, samples, repeat, timings, TARGETS.get(name)))
    if json_path:
        directory = os.path.dirname(os.path.abspath(json_path))
        os.makedirs(directory, exist_ok=True)
        with open(json_path, "w") as f:
            json.dump(rows, f, indent=2)
    return rows


def _verdict(part):
    if part.get("met") is None:
        return None
    return ("met" if part["met"] else "NOT met") + ("" if part.get("resolved", True)
                                                    else " (not resolved)")


def format_table(rows):
    """One line per row: the best-of ratio, the A/A control in brackets, on
    all CPUs and on one, and the verdicts against the target."""
    lines = [f"{'block':<42} {'Msps':>7}  {'baseline':<32} {'Msps':>7} {'ratio (A/A)':>13}"
             f" {'1 core (A/A)':>13}  target",
             "(A/A: the baseline against itself, the same protocol; its distance from 1 "
             "is the noise of the measurement)"]
    for r in rows:
        one = r.get("one_core", {})
        target = r.get("target_ratio")
        verdict = "" if target is None else f">= {target:g}: " + ", ".join(
            f"{label} {_verdict(part)}" for label, part in (("all CPUs", r), ("1 core", one))
            if _verdict(part) is not None)

        def cell(part):
            if "ratio" not in part:
                return f"{'':>13}"
            return f"{part['ratio']:6.3f} ({part.get('control_ratio', float('nan')):4.2f})"
        lines.append(f"{r['block']:<42} {r['msps']:7.1f}  {r['baseline']:<32} "
                     f"{r['baseline_msps']:7.1f} {cell(r)} {cell(one)}  {verdict}")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(prog="bench_dsp", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="short smoke run")
    p.add_argument("--samples", type=int, default=None, help="samples per run (default 5e7)")
    p.add_argument("--repeat", type=int, default=None,
                   help=f"runs per block pinned, best kept (default 5; {ALL_CPU_FACTOR} times "
                        "as many on all CPUs)")
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
