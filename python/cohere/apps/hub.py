# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Serve the over-the-air emulator to node and fusion processes over ZeroMQ.

One channel_hub is built from the testbed file (every node `sim`); each node
process (`cohere node`, `cohere fusion`) joins it over the control endpoint
`zmq.hub` and streams its RX and TX samples through it, as if it had its own
radio. The hub waits for every node's first join (up to zmq.join_timeout s),
so a full start is the same run, sample for sample, as the single-process
emulator. A node that delivers no TX for zmq.timeout s while the air waits
for it is declared silent (zeros); it can join again and starts at the hub's
current sample time. The run lasts the testbed's pcp.rounds rounds (or
--samples); prints one line per node and writes JSON (docs/multiprocess.md).
"""

import argparse
import json
import os
import sys

from .common import MAX_INT, positive_int, results_dir

PROG = "cohere hub"


def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="testbed file (YAML)")
    g = p.add_argument_group("run")
    g.add_argument("--samples", type=positive_int, default=None,
                   help="samples to stream (default: the length of pcp.rounds PCP rounds)")
    g = p.add_argument_group("output")
    g.add_argument("--out-dir", default=None,
                   help="directory for hub.json (default: $COHERE_BUILD_DIR/results/multiprocess)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from ..hubnet import HubError, HubServer
    from ..pcp.distributed import run_until_done, settings_from_testbed
    from ..radio import make_hub
    from ..testbed_file import TestbedError, load_testbed

    try:
        testbed = load_testbed(args.config)
        others = [n for n in testbed.nodes if n.radio != "sim"]
        if others:
            raise TestbedError(f"{args.config}: node {others[0].id} has radio "
                               f"{others[0].radio!r}; the hub emulates `sim` nodes only")
        if args.samples:
            nsamples = args.samples
            what = f"--samples {nsamples!r}"
        else:
            s = settings_from_testbed(testbed)
            nsamples = s.config.samples_for(s.rounds)
            what = f"{args.config}: pcp: {s.rounds} rounds need {nsamples} samples"
        if not isinstance(nsamples, int) or not 0 < nsamples <= MAX_INT:  # 64-bit sample counters
            raise TestbedError(f"{what}; the hub streams 1 to 2^63-1 samples")
    except TestbedError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    z = testbed.zmq
    try:
        server = HubServer(testbed, make_hub(testbed), nsamples, z["hub"], timeout=z["timeout"],
                           join_timeout=z["join_timeout"], rate=z["rate"])
    except (HubError, ValueError, TypeError, OverflowError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    print(f"hub: {len(testbed.nodes)} nodes, {nsamples} samples, listening on {z['hub']} "
          f"(silence after {z['timeout']:g} s)", flush=True)
    server.start_control()
    try:
        reason = run_until_done(server.tb, interrupt=server.interrupt)
    finally:
        server.close()
    summary = server.summary()
    for node in summary:
        starts = ", ".join(str(x["start"]) for x in node["sessions"]) or "-"
        events = ", ".join(f"{e['event']}@{e['sample']}" for e in node["events"]
                           if e["event"] not in ("joined",)) or "-"
        bad = node["malformed_frames"]
        bad = f"; {bad} malformed TX frames" if bad else ""
        print(f"node {node['id']:>3}: sessions from hub sample {starts}; "
              f"TX {node['tx_samples']} RX {node['rx_samples']}; events: {events}{bad}")
    out_dir = args.out_dir or results_dir("multiprocess")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, "hub.json")
    with open(path, "w") as f:
        json.dump({"testbed": testbed.name, "samples": nsamples, "ended": reason,
                   "bad_requests": server.bad_requests, "nodes": summary}, f, indent=2)
    print(f"hub: {reason}; wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
