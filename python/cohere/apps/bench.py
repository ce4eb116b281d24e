# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Benchmarks: `bench emulator` measures emulator throughput per node and memory over a long run.

`cohere bench emulator` builds, for N = 2, 8, 32 single-antenna nodes, one
flowgraph with a TX (vector_source_c repeat -> virtual_radio_sink_c) and an RX
(virtual_radio_source_c with nsamples = S -> null_sink) per node. Links are
the hub default without positions: unit air gain between every pair (full
mesh, so every receiver sums N - 1 transmitters), zero delay; phase noise and
AWGN are on. The TX sources get the same 32768-item output buffer as the
virtual radio source has by default, as a streaming app would give them.

The throughput runs are pinned to --cores CPUs (default 1: the target is per
core). Only tb.run() is timed, by the wall clock and by the CPU time of the
process (all its threads); the best of --repeat runs is reported. On a pinned
core the two agree on a quiet machine; the CPU time also stays right when
other processes share the core, so the per-core figures and the target use
it. Throughput per node is S / time, the aggregate N S / time, and the link
rate N (N - 1) S / time. --sched batch runs them under SCHED_BATCH (on one
core, fewer thread switches: a woken block does not preempt the running
one); the target is judged on the default policy only.

The reference is GNU Radio's own blocks.copy in the same process, on the same
pinned cores and by CPU time: vector_source_c (repeat) -> head(S) -> copy ->
null_sink.

The memory check runs one long flowgraph (--long-nodes, --long-samples) while
a thread samples VmRSS from /proc/self/status every --rss-interval seconds,
together with the receivers' progress; it reports the peak RSS and the growth
of RSS between 25 % and 100 % of the run (a flat line means no leak).
"""

import argparse
import json
import os
import platform
import sys
import threading
import time

import numpy as np

from .common import positive_int, results_dir

TARGET_NODES = 8
TARGET_MSPS = 10.0  # per node, on one core
TX_BUFFER = 32768  # items: the TX sources' output buffer (the virtual source's default)


# ----------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------


def rss_kib():
    """Current resident set size (KiB) from /proc/self/status (VmRSS)."""
    return _status_kib("VmRSS")


def _status_kib(field):
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return -1


def machine_info():
    from gnuradio import gr
    info = {
        "nproc": os.cpu_count(),
        "usable_cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "python": sys.version.split()[0],
        "python_executable": sys.executable,
        "gnuradio": gr.version(),
        "platform": platform.platform(),
        "cpu_model": None,
        "loadavg_start": None,
    }
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu_model"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    info["libraries"] = _cohere_libraries()
    try:
        info["loadavg_start"] = list(os.getloadavg())
    except OSError:
        pass
    return info


def _cohere_libraries():
    """The gr-cohere shared objects loaded in this process, with their mtimes (the
    build being measured)."""
    from gnuradio import cohere  # noqa: F401 - loads the bindings and the library

    found = {}
    try:
        with open("/proc/self/maps") as f:
            for line in f:
                path = line.split()[-1]
                name = os.path.basename(path)
                if "cohere" in name and ".so" in name and path not in found:
                    if os.path.exists(path):
                        found[path] = time.strftime(
                            "%Y-%m-%dT%H:%M:%S", time.localtime(os.path.getmtime(path)))
    except OSError:
        pass
    return [{"path": p, "mtime": m} for p, m in found.items()]


def _tx_signal():
    n = np.arange(4096)
    return (0.5 * np.exp(2j * np.pi * 0.01 * n)).astype(np.complex64).tolist()


def build_emulator(num_nodes, samples, args):
    """One flowgraph of num_nodes TX + RX pairs; returns (tb, hub)."""
    from gnuradio import blocks, gr

    from gnuradio import cohere

    ppm = np.linspace(-5.0, 5.0, num_nodes).tolist() if num_nodes > 1 else 0.0
    hub = cohere.make_testbed(num_nodes, args.samp_rate, args.center_freq, seed=args.seed,
                              ppm=ppm, phase_noise=args.phase_noise,
                              noise_power=args.noise_power)
    tb = gr.top_block(f"bench emulator N={num_nodes}")
    tx_signal = _tx_signal()
    for node in range(num_nodes):
        src = blocks.vector_source_c(tx_signal, True)
        src.set_min_output_buffer(0, TX_BUFFER)
        tb.connect(src, cohere.virtual_radio_sink_c(hub, node, 1))
        rx = cohere.virtual_radio_source_c(hub, node, 1, samples)
        tb.connect(rx, blocks.null_sink(gr.sizeof_gr_complex))
    return tb, hub


def time_emulator(num_nodes, samples, args):
    """One run: (wall seconds, CPU seconds of the whole process) of tb.run()."""
    tb, hub = build_emulator(num_nodes, samples, args)
    c0, t0 = time.process_time(), time.perf_counter()
    tb.run()
    elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
    done = min(hub.rx_position(n) for n in range(num_nodes))
    if done != samples:
        raise RuntimeError(f"N={num_nodes}: receivers produced {done} of {samples} samples")
    return elapsed, cpu


def pin_cpus(count):
    """Restrict this process (and the threads it starts) to `count` CPUs; returns
    the CPUs used, or None where affinity cannot be set."""
    if not hasattr(os, "sched_setaffinity"):
        return None
    usable = sorted(os.sched_getaffinity(0))  # count <= len(usable): checked first
    chosen = usable[-count:]  # the last ones: CPU 0 tends to take the interrupts
    os.sched_setaffinity(0, chosen)
    return chosen


def time_copy(samples):
    """CPU seconds of the process for `samples` through blocks.copy."""
    from gnuradio import blocks, gr

    tb = gr.top_block("bench blocks.copy")
    src = blocks.vector_source_c(_tx_signal(), True)
    tb.connect(src, blocks.head(gr.sizeof_gr_complex, samples),
               blocks.copy(gr.sizeof_gr_complex), blocks.null_sink(gr.sizeof_gr_complex))
    c0 = time.process_time()
    tb.run()
    return time.process_time() - c0


def long_run(num_nodes, samples, interval, args):
    """Run one long flowgraph while a thread samples RSS and progress.

    Growth is measured between the first sample at >= 25 % progress and the
    last sample taken while the flowgraph was still running (after tb.run()
    returns, GNU Radio frees the block threads and buffers, so RSS drops).
    """
    tb, hub = build_emulator(num_nodes, samples, args)
    trace = []  # (seconds, rss KiB, fraction of samples received, running)
    stop = threading.Event()
    running = threading.Event()
    t0 = time.perf_counter()

    def progress():
        return min(hub.rx_position(n) for n in range(num_nodes)) / samples

    def sample():
        p, rss = progress(), rss_kib()
        trace.append((time.perf_counter() - t0, rss, p, running.is_set()))

    def sampler():
        # every interval while the flowgraph runs, and once more after it
        # ended (so even a run shorter than the interval has two points)
        sample()
        while not stop.wait(interval):
            sample()
        sample()

    rss_before = rss_kib()
    running.set()
    thread = threading.Thread(target=sampler, name="rss-sampler", daemon=True)
    thread.start()
    tb.run()
    running.clear()
    elapsed = time.perf_counter() - t0
    stop.set()
    thread.join()
    rss_after = rss_kib()
    during = [row for row in trace if row[3]] or trace
    peak = max(row[1] for row in trace)
    at25 = next((row for row in during if row[2] >= 0.25), during[0])
    end = during[-1]
    growth_kib = end[1] - at25[1]
    return {
        "nodes": num_nodes,
        "samples_per_node": samples,
        "seconds": elapsed,
        "msps_per_node": samples / elapsed / 1e6,
        "rss_interval_s": interval,
        "rss_samples": len(trace),
        "rss_before_kib": rss_before,
        "rss_peak_kib": peak,
        "rss_after_run_kib": rss_after,
        "rss_at_25pct_kib": at25[1],
        "rss_at_25pct_progress": at25[2],
        "rss_at_end_kib": end[1],
        "rss_at_end_progress": end[2],
        "rss_growth_25_to_100_kib": growth_kib,
        "rss_growth_25_to_100_mib": growth_kib / 1024.0,
        "vmhwm_kib": _status_kib("VmHWM"),
        "trace": [{"t": round(t, 3), "rss_kib": r, "progress": round(p, 4), "running": run}
                  for t, r, p, run in trace],
    }


# ----------------------------------------------------------------------------
# command line
# ----------------------------------------------------------------------------


def build_parser():
    p = argparse.ArgumentParser(
        prog="cohere bench",
        description="gr-cohere benchmarks.",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="bench", metavar="BENCH")
    sub.required = True
    e = sub.add_parser(
        "emulator", help="throughput per node of the over-the-air emulator, and memory",
        description=__doc__.split("\n", 2)[2],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    g = e.add_argument_group("throughput")
    g.add_argument("--nodes", type=positive_int, nargs="+", default=[2, 8, 32], metavar="N",
                   help="node counts (default: 2 8 32)")
    g.add_argument("--samples", type=positive_int, default=None, metavar="S",
                   help="samples per node and run (default: 2e7 / N, quick: 2e5 / N)")
    g.add_argument("--repeat", type=positive_int, default=None,
                   help="runs per measurement, best reported (default 3, quick 1)")
    g.add_argument("--copy-samples", type=positive_int, default=None,
                   help="samples through blocks.copy (default 1e8, quick 2e6)")
    g.add_argument("--cores", type=positive_int, default=1,
                   help="CPUs the throughput runs are pinned to (default 1: the target "
                   "is per core)")
    g.add_argument("--sched", choices=["other", "batch"], default="other",
                   help="Linux scheduling policy of the throughput runs: other (the "
                   "default policy, what the target is judged on) or batch (SCHED_BATCH: "
                   "a woken block thread does not preempt the running one, fewer thread "
                   "switches on one core)")
    m = e.add_argument_group("memory")
    m.add_argument("--long-samples", type=positive_int, default=None,
                   help="samples per node of the long run (default 1e8: 6-15 s for N = 2 "
                   "on a shared 2-core machine; quick 2e6)")
    m.add_argument("--long-nodes", type=positive_int, default=2, help="nodes in the long run")
    m.add_argument("--rss-interval", type=float, default=None,
                   help="RSS sampling period in s (default 0.5, quick 0.05)")
    m.add_argument("--no-long", action="store_true", help="skip the memory check")
    c = e.add_argument_group("testbed")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--samp-rate", type=float, default=1e6, help="fs (Hz); does not "
                   "change the work per sample")
    c.add_argument("--center-freq", type=float, default=915e6, help="fc (Hz)")
    c.add_argument("--phase-noise", type=float, default=1e-20,
                   help="Wiener phase-noise constant c (s) of every node (on by default)")
    c.add_argument("--noise-power", type=float, default=1e-3,
                   help="AWGN power at every receiver (on by default)")
    o = e.add_argument_group("output")
    o.add_argument("--quick", action="store_true",
                   help="short smoke run (a few seconds; numbers are not meaningful)")
    o.add_argument("--json", default=None, metavar="FILE",
                   help="JSON results (default: $COHERE_BUILD_DIR/results/bench/"
                   "bench_emulator.json or ./results/bench/bench_emulator.json)")
    d = sub.add_parser(
        "dsp", help="DSP core blocks' throughput next to GNU Radio's own blocks",
        description="Each DSP-core block between null_source -> head and null_sink, next to "
                    "the GNU Radio block it replaces, in the same process, on all usable CPUs "
                    "and pinned to one, with the baseline timed twice as an A/A control of the "
                    "measurement's noise; prints and writes a list of {block, msps, baseline, "
                    "baseline_msps, ratio, median_ratio, control_ratio, one_core: {...}}.")
    d.add_argument("--quick", action="store_true", help="short smoke run (numbers not meaningful)")
    d.add_argument("--samples", type=positive_int, default=None, help="samples per run (default 5e7)")
    d.add_argument("--repeat", type=positive_int, default=None, help="runs per block pinned, best reported (default 5; 3 times as many on all CPUs)")
    d.add_argument("--json", default=None, metavar="FILE",
                   help="JSON results (default: <results>/bench/bench_dsp.json)")
    return p


def run_dsp_bench(args):
    from . import bench_dsp
    path = args.json or os.path.join(results_dir("bench"), "bench_dsp.json")
    rows = bench_dsp.run(path, quick=args.quick, samples=args.samples, repeat=args.repeat)
    try:  # the preamble detector's rows, where that block is built
        from . import bench_dsp_detector
    except ImportError:
        bench_dsp_detector = None
    if bench_dsp_detector is not None:
        rows = rows + bench_dsp_detector.run(None, quick=args.quick)
        with open(path, "w") as f:
            json.dump(rows, f, indent=2)
    print(bench_dsp.format_table(rows))
    print(f"wrote {path}")
    return 0


def run_emulator_bench(args):
    quick = args.quick
    repeat = args.repeat or (1 if quick else 3)
    copy_samples = args.copy_samples or (2_000_000 if quick else 100_000_000)
    long_samples = args.long_samples or (2_000_000 if quick else 100_000_000)
    interval = args.rss_interval or (0.05 if quick else 0.5)
    json_path = args.json or os.path.join(results_dir("bench"), "bench_emulator.json")
    if hasattr(os, "sched_getaffinity") and args.cores > len(os.sched_getaffinity(0)):
        raise SystemExit(f"cohere bench: --cores {args.cores} but only "
                         f"{len(os.sched_getaffinity(0))} CPUs are usable")
    if args.sched == "batch" and not hasattr(os, "SCHED_BATCH"):
        raise SystemExit("cohere bench: --sched batch needs Linux's SCHED_BATCH")
    info = machine_info()
    print(f"cohere bench emulator: {info['nproc']} CPUs ({info['cpu_model']}), "
          f"GNU Radio {info['gnuradio']}, Python {info['python']}, "
          f"load {info['loadavg_start']}{' [quick]' if quick else ''}", flush=True)

    # the memory check first, so that its RSS is not inflated by the big flowgraphs
    long = None
    if not args.no_long:
        print(f"memory check: N={args.long_nodes}, {long_samples:g} samples per node ...",
              flush=True)
        long = long_run(args.long_nodes, long_samples, interval, args)
        print(f"  {long['seconds']:.1f} s, peak RSS {long['rss_peak_kib'] / 1024:.1f} MiB",
              flush=True)

    cpus = pin_cpus(args.cores)
    info["pinned_cpus"] = cpus
    print(f"throughput runs pinned to CPU(s) {cpus}" if cpus is not None
          else "throughput runs not pinned (no CPU affinity here)", flush=True)
    if args.sched == "batch":
        # the block threads GNU Radio starts from here on inherit the policy
        try:
            os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
        except (AttributeError, OSError) as e:
            raise SystemExit(f"cohere bench: --sched batch: cannot set SCHED_BATCH here ({e})")
        print("throughput runs under SCHED_BATCH", flush=True)
    copy_times = [time_copy(copy_samples) for _ in range(repeat)]
    copy_best = min(copy_times)
    copy_msps = copy_samples / copy_best / 1e6
    print(f"blocks.copy reference: {copy_msps:.1f} Msps ({copy_samples:g} samples, "
          f"best of {repeat})", flush=True)

    rows = []
    for n in args.nodes:
        samples = args.samples or max(10_000, int((2e5 if quick else 2e7) / n))
        runs = [time_emulator(n, samples, args) for _ in range(repeat)]
        best = min(wall for wall, _ in runs)
        best_cpu = min(cpu for _, cpu in runs)
        per_node = samples / best_cpu / 1e6
        rows.append({
            "nodes": n,
            "samples_per_node": samples,
            "seconds_best": best,
            "seconds_all": [wall for wall, _ in runs],
            "cpu_seconds_best": best_cpu,
            "cpu_seconds_all": [cpu for _, cpu in runs],
            "cores": args.cores,
            "msps_per_node": per_node,
            "msps_per_node_wall": samples / best / 1e6,
            "msps_aggregate": per_node * n,
            "msps_links": per_node * n * (n - 1),
            "ratio_to_copy": per_node / copy_msps,
            "realtime_factor_per_node": samples / best_cpu / args.samp_rate,
        })
        r = rows[-1]
        print(f"  N={n:<3d} {samples:>10d} samples/node  {best:7.2f} s wall  "
              f"{best_cpu:7.2f} s CPU  {per_node:8.2f} Msps/node per CPU-second "
              f"({r['msps_per_node_wall']:.2f} by the wall clock)  "
              f"ratio to copy {r['ratio_to_copy']:.4f}", flush=True)


    # ------------------------------------------------------------------ report
    print()
    print(f"per CPU-second of {args.cores} pinned core(s); wall-clock Msps/node alongside")
    head = (f"{'N':>4} {'S/node':>11} {'CPU s':>8} {'Msps/node':>10} {'(wall)':>8} "
            f"{'Msps agg':>9} {'link Msps':>10} {'/ copy':>8} {'x realtime':>10}")
    print(head)
    print("-" * len(head))
    for r in rows:
        print(f"{r['nodes']:>4} {r['samples_per_node']:>11d} {r['cpu_seconds_best']:>8.2f} "
              f"{r['msps_per_node']:>10.2f} {r['msps_per_node_wall']:>8.2f} "
              f"{r['msps_aggregate']:>9.2f} "
              f"{r['msps_links']:>10.1f} {r['ratio_to_copy']:>8.4f} "
              f"{r['realtime_factor_per_node']:>10.1f}")
    print(f"{'copy':>4} {copy_samples:>11d} {copy_best:>8.2f} {copy_msps:>10.2f}"
          "   (blocks.copy, same process and cores, CPU time)")
    target_row = next((r for r in rows if r["nodes"] == TARGET_NODES), None)
    if target_row is None:
        target = {"nodes": TARGET_NODES, "msps_per_node_required": TARGET_MSPS,
                  "measured": None, "met": None}
        print(f"target N = {TARGET_NODES} at >= {TARGET_MSPS:g} Msps per node: not measured")
    else:
        judged = args.cores == 1 and args.sched == "other"
        met = target_row["msps_per_node"] >= TARGET_MSPS and judged
        target = {"nodes": TARGET_NODES, "msps_per_node_required": TARGET_MSPS,
                  "cores": args.cores, "sched": args.sched,
                  "measured": target_row["msps_per_node"],
                  "measured_wall": target_row["msps_per_node_wall"], "met": met}
        got = target_row["msps_per_node"]
        short = "" if met else f", {TARGET_MSPS / got:.1f}x short"
        where = "" if args.cores == 1 else f"; measured on {args.cores} cores, the target is per core"
        if args.sched != "other":
            where += f"; measured under SCHED_{args.sched.upper()}, the target is judged on the default policy"
        print(f"target N = {TARGET_NODES} at >= {TARGET_MSPS:g} Msps per node on one core: "
              f"{'MET' if met else 'NOT MET'} ({got:.2f} Msps per node{short}{where})")
    if long is not None:
        print(f"memory: N={long['nodes']}, {long['samples_per_node']:g} samples/node in "
              f"{long['seconds']:.1f} s ({long['msps_per_node']:.2f} Msps/node); "
              f"peak RSS {long['rss_peak_kib'] / 1024:.1f} MiB "
              f"(before the run {long['rss_before_kib'] / 1024:.1f} MiB); "
              f"growth 25%->100% {long['rss_growth_25_to_100_mib']:+.2f} MiB "
              f"({long['rss_samples']} samples)")
    try:
        info["loadavg_end"] = list(os.getloadavg())
    except OSError:
        pass

    result = {
        "app": "bench",
        "bench": "emulator",
        "quick": quick,
        "machine": info,
        "config": {
            "nodes": args.nodes, "repeat": repeat, "samp_rate": args.samp_rate,
            "center_freq": args.center_freq, "phase_noise": args.phase_noise,
            "noise_power": args.noise_power, "seed": args.seed,
            "links": "hub default: unit air gain every pair, zero delay",
            "tx_source": "blocks.vector_source_c(repeat=True), 4096-sample tone, "
                         f"{TX_BUFFER}-item output buffer",
            "cores": args.cores,
            "sched": args.sched,
            "rx_sink": "blocks.null_sink",
        },
        "copy": {"samples": copy_samples, "cpu_seconds_best": copy_best,
                 "cpu_seconds_all": copy_times, "msps": copy_msps},
        "emulator": rows,
        "target": target,
        "memory": long,
        "json": os.path.abspath(json_path),
    }
    os.makedirs(os.path.dirname(os.path.abspath(json_path)), exist_ok=True)
    with open(json_path, "w") as f:
        json.dump(result, f, indent=2)
    print(f"wrote {os.path.abspath(json_path)}")
    return 0


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.bench == "emulator":
        return run_emulator_bench(args)
    if args.bench == "dsp":
        return run_dsp_bench(args)
    return 2  # pragma: no cover - argparse rejects unknown choices


if __name__ == "__main__":
    sys.exit(main())
