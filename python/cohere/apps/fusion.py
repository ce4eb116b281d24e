# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run the PCP fusion node on its radio and collect the OAC results of the run.

The testbed file's role-fusion node runs pcp_fusion for pcp.rounds rounds on
its radio (real, or the `sim` radio of `cohere hub`). Nodes report heartbeats
and round events to it over ZeroMQ (zmq.fusion); a node without a heartbeat
for zmq.timeout s is reported lost, and every round lists the nodes that did
not answer (`missing`). Writes one JSON line per round as it completes
(fusion.jsonl: participants, missing, rho, sums) and a summary (fusion.json);
ends after the last round (or on SIGINT/SIGTERM) with a short table. Exits
non-zero when the run ended (the hub's stream, the flowgraph) before all
pcp.rounds rounds were in.
"""

import argparse
import json
import os
import sys

import numpy as np

from .common import results_dir

PROG = "cohere fusion"


def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="testbed file (YAML)")
    g = p.add_argument_group("output")
    g.add_argument("--out-dir", default=None,
                   help="directory for fusion.jsonl and fusion.json "
                        "(default: $COHERE_BUILD_DIR/results/multiprocess)")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from ..hubnet import HubError
    from ..pcp.distributed import fusion_top_block, load_role, run_until_done
    from ..radio import RadioError, open_radio
    from ..testbed_file import TestbedError

    try:
        testbed, settings, node = load_role(args.config, "fusion")
    except TestbedError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    out_dir = args.out_dir or results_dir("multiprocess")
    os.makedirs(out_dir, exist_ok=True)
    jsonl = os.path.join(out_dir, "fusion.jsonl")
    try:
        radio = open_radio(testbed, node.id, hub_endpoint=testbed.zmq["hub"])
        tb = fusion_top_block(testbed, settings, radio, jsonl)
        if radio.connection is not None:
            radio.connection.join(testbed.zmq["join_timeout"])
    except (RadioError, HubError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    except RuntimeError as exc:  # gr-zeromq: the control endpoints cannot be bound
        print(f"{PROG}: cannot listen on {testbed.zmq['fusion']} (and the next port): {exc}",
              file=sys.stderr)
        return 1
    K = settings.config.num_nodes
    print(f"fusion {node.id}: {K} nodes, {settings.rounds} rounds, {radio.description}",
          flush=True)
    ended = {"sent": False}
    conn = radio.connection

    def rounds_done():
        # all rounds in: tell the nodes; a real radio stops here, the hub's
        # stream ends right after the last round
        if tb.writer.done.is_set() and not ended["sent"]:
            tb.publish_end()
            ended["sent"] = True
        return conn.finished.is_set() if conn is not None else ended["sent"]

    reason = run_until_done(tb, rounds_done, on_poll=tb.monitor.check,
                            interrupt=conn.interrupt if conn else None)
    if reason == "stopped":
        reason = "end of run"
    error = tb.fusion.control.error  # an exception in the fusion's logic
    if error:
        reason = f"error: {error}"
    tb.writer.close()
    records = tb.writer.records
    incomplete = not error and reason != "signal" and len(records) < settings.rounds
    if incomplete:
        how = "the stream ended" if conn is not None else "the flowgraph ended"
        reason = f"incomplete: {how} after {len(records)} of {settings.rounds} rounds"
    ids = list(settings.slots)
    counted = {i: sum(i in r["participants"] for r in records) for i in ids}
    missing = {i: [r["round"] for r in records if i in r["missing"]] for i in ids}
    sums = [np.array(r["sums"]).view(complex).ravel() for r in records]
    energy = [float(np.sum(np.abs(s) ** 2)) for s in sums]
    print(f"{'round':>5} {'participants':<24} {'missing':<12} {'rho':>8}")
    for r in records:
        print(f"{r['round']:>5} {str(r['participants']):<24} {str(r['missing']):<12} "
              f"{r['rho']:>8.4f}")
    for e in tb.monitor.events:
        if e["event"] != "joined":
            print(f"node {e['id']}: {e['event']} at {e['time_s']:.1f} s {e['detail']}")
    summary = {"testbed": testbed.name, "rounds": len(records), "requested": settings.rounds,
               "ended": reason, "nodes": {str(i): {"slot": settings.slots[i],
                                                   "counted_rounds": counted[i],
                                                   "missing_rounds": missing[i]} for i in ids},
               "participants": [r["participants"] for r in records],
               "sum_energy": energy, "liveness": tb.monitor.events,
               "radio_events": None if radio.monitor is None else radio.monitor.report(),
               "config": {k: getattr(tb.config, k) for k in
                          ("num_nodes", "samp_rate", "center_freq", "fft_len", "cp_len",
                           "oac_symbols", "lookahead", "latency", "seed")},
               "jsonl": jsonl}
    path = os.path.join(out_dir, "fusion.json")
    with open(path, "w") as f:
        json.dump(summary, f, indent=2)
    print(f"fusion: {len(records)}/{settings.rounds} rounds ({reason}); wrote {jsonl} and {path}")
    if error:
        print(f"{PROG}: the fusion stopped on an error: {error}", file=sys.stderr)
        return 1
    if incomplete:
        print(f"{PROG}: {reason}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
