# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Run one PCP node on its radio (a real one, or the `sim` radio of `cohere hub`).

The node with id K of the testbed file (role node; slot = its position among
the role-node entries) runs pcp_node on its radio: for `uhd`, `pluto` and
`soapy` the radio family's factory, for `sim` the connection to the hub
process at zmq.hub. It sends heartbeats and its round events to the fusion
(zmq.fusion) and listens to the fusion's round results. It ends when its
stream ends (the hub's last sample), when the fusion announces the end of the
run, or on SIGINT/SIGTERM; prints its rounds and writes JSON. It exits
non-zero when its stream did not end normally (the hub declared it silent,
another process joined as this node, the hub went quiet, RX frames were lost).
"""

import argparse
import json
import os
import sys
import time

from .common import results_dir

PROG = "cohere node"

# how a `sim` node's RX stream ended (hub_rx_source.ended_by) other than the run's end
STREAM_FAILURES = {"silenced": "the hub declared this node silent",
                   "replaced": "another process joined the hub as this node",
                   "silence": "no samples from the hub",
                   "gap": "RX frames from the hub were lost"}


def build_parser():
    p = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="testbed file (YAML)")
    p.add_argument("--id", required=True, type=int, help="this node's id in the testbed file")
    g = p.add_argument_group("output")
    g.add_argument("--out-dir", default=None,
                   help="directory for node_<id>.json (default: $COHERE_BUILD_DIR/results/multiprocess)")
    g.add_argument("--sigmf", action="store_true",
                   help="record the RX stream (antenna 0) as OUT_DIR/node_<id>.sigmf-data/-meta "
                        "with the node's CFO, latency, retunes and radio events")
    return p


def main(argv=None):
    args = build_parser().parse_args(argv)
    from ..hubnet import HubError
    from ..pcp.distributed import load_role, node_top_block, run_until_done, to_json
    from ..radio import RadioError, open_radio
    from ..testbed_file import TestbedError

    try:
        testbed, settings, node = load_role(args.config, "node", args.id)
    except TestbedError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 2
    try:
        radio = open_radio(testbed, node.id, hub_endpoint=testbed.zmq["hub"])
    except RadioError as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    hub_start = None
    out_dir = args.out_dir or results_dir("multiprocess")
    os.makedirs(out_dir, exist_ok=True)
    record = os.path.join(out_dir, f"node_{node.id}") if args.sigmf else None
    try:
        tb = node_top_block(testbed, settings, node.id, radio, record=record)
        if radio.connection is not None:
            session = radio.connection.join(testbed.zmq["join_timeout"])
            hub_start = session["start"]
            tb.heartbeat.set_msg(_with_start(tb.heartbeat.msg(), hub_start))
    except (HubError, ValueError) as exc:
        print(f"{PROG}: {exc}", file=sys.stderr)
        return 1
    where = f" from hub sample {hub_start}" if hub_start is not None else ""
    print(f"node {node.id}: slot {tb.slot} of {settings.config.num_nodes}, {radio.description}, "
          f"L = {radio.latency}{where}", flush=True)
    silence = max(30.0, 10 * testbed.zmq["timeout"])

    def fusion_gone():
        seen = tb.listener.last_seen
        return tb.listener.ended.is_set() or (seen is not None and
                                               time.monotonic() - seen > silence)

    # sim: the hub ends the stream; real radios: the fusion ends the run
    conn = radio.connection
    stop = conn.finished.is_set if conn is not None else fusion_gone
    reason = run_until_done(tb, stop, interrupt=conn.interrupt if conn else None)
    ended_by = conn.source.ended_by if conn is not None else None
    if reason == "stopped":
        reason = "end of stream" if conn is not None else "end of run"
    error = tb.node.control.error  # an exception in the node's logic
    failure = STREAM_FAILURES.get(ended_by) if reason != "signal" else None
    if failure:
        reason = f"stream ended: {failure}"
    if error:
        reason = f"error: {error}"
    report = tb.report()
    report.update(family=radio.family, hub_start=hub_start, ended=reason, stream_ended_by=ended_by,
                  session=None if radio.connection is None else radio.connection.session)
    rounds = report["rounds"]
    sent = sum(1 for r in rounds if r.get("payload_sent"))  # armed and its feedback taken
    counted = sum(1 for r in tb.listener.results if node.id in (r.get("participants") or []))
    print(f"node {node.id}: {len(rounds)} requests answered, {sent} payloads sent, "
          f"counted in {counted} fusion rounds; {reason}")
    if record:
        print(f"wrote {write_recording_meta(tb, report, radio, record, testbed)}")
    path = os.path.join(out_dir, f"node_{node.id}.json")
    with open(path, "w") as f:
        json.dump(to_json(report), f, indent=1)
    print(f"wrote {path}")
    if error:
        print(f"{PROG}: node {node.id} stopped on an error: {error}", file=sys.stderr)
        return 1
    if failure:
        print(f"{PROG}: node {node.id}: its stream did not end normally: {failure}",
              file=sys.stderr)
        return 1
    return 0


def write_recording_meta(tb, report, radio, prefix, testbed):
    """The .sigmf-meta of the node's RX recording: per-node metadata and one
    annotation per round (request to payload) and per retune."""
    from ..sigmf import write_meta
    c = tb.config
    notes = []
    for r in report["rounds"]:
        a = {"sample_start": r["anchor"], "sample_count": c.t4 + c.oac_symbols * c.sym_len,
             "label": f"request {r['request']}"}
        for key in ("index", "amp", "phase", "cfo_estimate", "cfo_measured", "feedback_phase",
                    "feedback_amp", "round_trip", "latency_invalid"):
            if r.get(key) is not None:
                a[f"cohere:{key}"] = r[key]
        notes.append(a)
    for t in report["retunes"]:
        notes.append({"sample_start": t["sample"], "label": "retune", "cohere:cfo": t["cfo"]})
    events = report.get("radio_events", {})
    for e in events.get("events", []):
        notes.append({"sample_start": e["sample"], "label": e["event"],
                      "cohere:detail": e["detail"]})
    extra = {"node_id": report["id"], "slot": report["slot"], "family": radio.family,
             "latency": report["latency"],
             "latency_valid": events.get("latency_valid", True),
             "latency_spread": testbed.node(report["id"]).latency_spread,
             "cfo_estimate": report["cfo_estimate"], "hub_start": report.get("hub_start")}
    return write_meta(prefix, testbed.fs, testbed.fc, description=f"gr-cohere PCP node "
                      f"{report['id']} RX", hw=radio.description, extra=extra, annotations=notes,
                      sample_start=report.get("hub_start") or 0)


def _with_start(msg, start):
    import pmt
    return pmt.dict_add(msg, pmt.intern("hub_start"), pmt.from_long(int(start)))


if __name__ == "__main__":
    sys.exit(main())
