# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""PCP across processes: the fusion and every node in its own process, each
on its own radio (a real one, or the `sim` radio served by `cohere hub`).

    settings_from_testbed(tb)   the shared PcpConfig, rounds and slots
    node_top_block / fusion_top_block   importable top blocks of the apps

The schedule (PcpConfig) comes from the testbed file's `pcp` section and is
the same in every process; only the latency L differs per radio. PcpConfig
derives its turnarounds from L, so the common configuration is built with
the largest L of the testbed and its derived times (g_u, g_d, idle, start)
pinned, and each process replaces L by its own radio's.

Control plane (gr-zeromq PMT message blocks, docs/multiprocess.md):
    node  -> fusion  PUSH -> PULL (fusion binds zmq.fusion): heartbeats
                     {kind: alive} every timeout / 4 and the node's round
                     events {kind: round} (pcp_node's `events` port)
    fusion -> nodes  PUB -> SUB (fusion binds zmq.fusion port + 1): the
                     round results {kind: result}, heartbeats, {kind: end}
The air carries the protocol itself; the control plane only reports
liveness and results and tells real-radio nodes when the run is over.
"""

import json
import math
import os
import signal
import threading
import time
from dataclasses import dataclass

import numpy as np
import pmt
from gnuradio import gr

from ..logs import block_loggers
from ..messages import pmt_dict
from ..testbed_file import TestbedError, load_testbed, parse_endpoint
from .config import PcpConfig

__all__ = ["PcpSettings", "load_role", "settings_from_testbed", "control_endpoints", "node_top_block",
           "fusion_top_block", "run_until_done", "to_json"]

_CONFIG_FIELDS = ("fft_len", "cp_len", "active", "pilot_spacing", "oac_symbols", "guard",
                  "lookahead", "margin", "g_u", "g_d", "idle", "start", "theta_des",
                  "trigger_len", "feedback_amp", "min_snr_db", "detect_threshold", "seed")


@dataclass
class PcpSettings:
    config: PcpConfig  # common schedule (latency = the testbed's largest)
    rounds: int
    fusion_id: int
    slots: dict  # node id -> slot 1..K (file order of the role `node` entries)
    mode: str
    values: str
    value_seed: int
    timing_advance: bool

    def node_id(self, slot):
        return next(i for i, s in self.slots.items() if s == slot)


def load_role(path, role, node_id=None):
    """(testbed, settings, node) for the app that runs `role` ("fusion" or
    "node", the latter with its node_id) from the testbed file at `path`;
    TestbedError with one line naming what is wrong: a bad file, a node that
    has another role, a real radio whose latency L was never measured."""
    testbed = load_testbed(path)
    settings = settings_from_testbed(testbed)
    node = testbed.node(settings.fusion_id if role == "fusion" else node_id)
    if node.role != role:
        other = "cohere fusion" if node.role == "fusion" else "cohere node --id ID"
        raise TestbedError(f"{path}: node {node.id} has role {node.role!r}; run it with `{other}`")
    if node.radio != "sim" and node.latency is None:
        raise TestbedError(f"{path}: node {node.id}: latency unknown "
                           f"(measure it with `cohere calibrate-latency --write`)")
    return testbed, settings, node


def settings_from_testbed(testbed):
    """The PCP run described by a testbed file; TestbedError naming the field."""
    where = testbed.path or "testbed"
    fusion = testbed.fusion
    if fusion is None:
        raise TestbedError(f"{where}: no node has role fusion (the PCP run needs one)")
    nodes = [n for n in testbed.nodes if n.role == "node"]
    if not nodes:
        raise TestbedError(f"{where}: no node has role node (the PCP run needs at least one)")
    p = testbed.pcp
    kw = {k: p[k] for k in _CONFIG_FIELDS if k in p}
    latency = max((n.latency or 0) for n in testbed.nodes)
    try:
        base = PcpConfig(num_nodes=len(nodes), samp_rate=testbed.fs, center_freq=testbed.fc,
                         latency=latency, **kw)
        config = base.replace(g_u=base.node_turnaround, g_d=base.fusion_turnaround,
                              idle=base.idle_samples, start=base.first_request)
    except ValueError as exc:
        raise TestbedError(f"{where}: pcp: {exc}") from None
    return PcpSettings(config=config, rounds=int(p["rounds"]), fusion_id=fusion.id,
                       slots={n.id: k for k, n in enumerate(nodes, start=1)},
                       mode=p["mode"], values=p["values"], value_seed=int(p["value_seed"]),
                       timing_advance=bool(p["timing_advance"]))


def control_endpoints(testbed):
    """(fusion PULL endpoint, fusion PUB endpoint) of the control plane."""
    host, port = parse_endpoint(testbed.zmq["fusion"], "zmq: fusion")
    return f"tcp://{host}:{port}", f"tcp://{host}:{port + 1}"


def to_json(value):
    """JSON-ready copy of a record: numpy scalars and arrays, complex as [re, im]
    (floats are written with repr, so they read back bit for bit)."""
    if isinstance(value, dict):
        return {str(k): to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_json(v) for v in value]
    if isinstance(value, np.ndarray):
        return to_json(value.tolist())
    if isinstance(value, (complex, np.complexfloating)):
        return [float(value.real), float(value.imag)]
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, np.floating):
        value = float(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN or infinity
    return value


# ---------------------------------------------------------------------------
# message blocks
# ---------------------------------------------------------------------------

class node_reporter(gr.basic_block):
    """Tags the node's round events with its id and incarnation for the fusion
    (message in `events`, out `out`)."""

    def __init__(self, node_id, incarnation):
        gr.basic_block.__init__(self, name="node_reporter", in_sig=None, out_sig=None)
        self.node_id = int(node_id)
        self.incarnation = int(incarnation)
        self.message_port_register_in(pmt.intern("events"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("events"), self._handle)

    def _handle(self, msg):
        if not pmt.is_dict(msg):
            return
        msg = pmt.dict_add(msg, pmt.intern("kind"), pmt.intern("round"))
        msg = pmt.dict_add(msg, pmt.intern("id"), pmt.from_long(self.node_id))
        msg = pmt.dict_add(msg, pmt.intern("incarnation"), pmt.from_long(self.incarnation))
        self.message_port_pub(pmt.intern("out"), msg)


class fusion_listener(gr.basic_block):
    """A node's view of the fusion's control messages: round results, the
    time of the last message, and the end of the run."""

    def __init__(self):
        gr.basic_block.__init__(self, name="fusion_listener", in_sig=None, out_sig=None)
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self.results = []
        self.last_seen = None
        self.ended = threading.Event()

    def _handle(self, msg):
        if not pmt.is_dict(msg):
            return
        d = pmt.to_python(msg)
        self.last_seen = time.monotonic()
        kind = d.get("kind")
        if kind == "result":
            self.results.append({k: to_json(v) for k, v in d.items() if k != "kind"})
        elif kind == "end":
            self.ended.set()


class node_monitor(gr.basic_block):
    """The fusion's view of the nodes: heartbeats and round events per node id.
    check() (called periodically) turns `timeout` s without a heartbeat into a
    `lost` event; a heartbeat of a new incarnation is a `joined` event."""

    def __init__(self, node_ids, timeout):
        gr.basic_block.__init__(self, name="node_monitor", in_sig=None, out_sig=None)
        self.message_port_register_in(pmt.intern("in"))
        self.set_msg_handler(pmt.intern("in"), self._handle)
        self.timeout = float(timeout)
        self._log, _ = block_loggers("node_monitor")
        self._lock = threading.Lock()
        self.t0 = time.monotonic()
        self.nodes = {int(i): {"incarnation": None, "last_seen": None, "alive": False,
                               "hub_start": None, "rounds": []} for i in node_ids}
        self.events = []

    def _event(self, node_id, what, detail=""):
        t = round(time.monotonic() - self.t0, 3)
        self.events.append({"time_s": t, "id": node_id, "event": what, "detail": detail})
        self._log.info(f"node {node_id}: {what}" + (f" ({detail})" if detail else ""))

    def _handle(self, msg):
        if not pmt.is_dict(msg):
            return
        d = pmt.to_python(msg)
        try:
            node_id = int(d["id"])
            incarnation = int(d["incarnation"])
        except (KeyError, TypeError, ValueError):
            return
        with self._lock:
            node = self.nodes.get(node_id)
            if node is None:
                return
            node["last_seen"] = time.monotonic()
            if incarnation != node["incarnation"]:
                first = node["incarnation"] is None
                node["incarnation"] = incarnation
                node["hub_start"] = d.get("hub_start")
                detail = "" if d.get("hub_start") is None else f"hub sample {d['hub_start']}"
                self._event(node_id, "joined" if first else "rejoined", detail)
                node["alive"] = True
            elif not node["alive"]:
                node["alive"] = True
                self._event(node_id, "back")
            if d.get("kind") == "round":
                node["rounds"].append({k: to_json(v) for k, v in d.items()
                                       if k not in ("kind", "id")})

    def check(self):
        now = time.monotonic()
        with self._lock:
            for node_id, node in self.nodes.items():
                if node["alive"] and now - node["last_seen"] > self.timeout:
                    node["alive"] = False
                    self._event(node_id, "lost", f"no heartbeat for {self.timeout:g} s")

    def alive(self):
        with self._lock:
            return {i: n["alive"] for i, n in self.nodes.items()}


class results_writer(gr.basic_block):
    """The fusion's round results: one JSON line per round (written as each
    round completes), kept in `records`, and published to the nodes."""

    def __init__(self, fusion, settings, path, monitor=None):
        gr.basic_block.__init__(self, name="results_writer", in_sig=None, out_sig=None)
        self.message_port_register_in(pmt.intern("results"))
        self.message_port_register_out(pmt.intern("out"))
        self.set_msg_handler(pmt.intern("results"), self._handle)
        self.fusion = fusion
        self.settings = settings
        self.monitor = monitor
        self.records = []
        self.done = threading.Event()
        self._file = open(path, "w") if path else None

    def close(self):
        if self._file:
            self._file.close()
            self._file = None

    def _handle(self, msg):
        r = int(pmt.to_python(pmt.dict_ref(msg, pmt.intern("round"), pmt.from_long(-1))))
        rec = next((x for x in reversed(self.fusion.results) if x["round"] == r), None)
        if rec is None:
            return
        s = self.settings
        ids = {k: s.node_id(k) for k in s.slots.values()}
        line = {"round": r, "t1": int(rec["t1"]),
                "participants": [ids[k] for k in rec["participants"]],
                "answered": [ids[k] for k in rec["answered"]],
                "missing": [ids[k] for k in sorted(ids) if k not in rec["answered"]],
                "participant_slots": list(rec["participants"]),
                "rho": rec["rho"], "arrived": rec["arrived"], "noise_var": rec["noise_var"],
                "sums": rec["sums"]}
        if self.monitor is not None:
            line["alive"] = [i for i, a in self.monitor.alive().items() if a]
        line = to_json(line)
        self.records.append(line)
        if self._file:
            self._file.write(json.dumps(line) + "\n")
            self._file.flush()
        self.message_port_pub(pmt.intern("out"), pmt_dict(
            kind="result", round=r, participants=line["participants"],
            missing=line["missing"], rho=float(rec["rho"])))
        if s.rounds and r + 1 >= s.rounds:
            self.done.set()


# ---------------------------------------------------------------------------
# top blocks
# ---------------------------------------------------------------------------

def _connect_radio(tb, radio, block):
    """Antenna 0 carries the protocol; the others receive into a null sink and
    transmit zeros. The radio's monitor (if any) watches channel 0."""
    from gnuradio import blocks
    source, sink, nchan = radio.source, radio.sink, radio.nchan
    radio.attach(tb)
    tb.connect((source, 0), block, (sink, 0))
    for ch in range(1, nchan):
        tb.connect((source, ch), blocks.null_sink(gr.sizeof_gr_complex))
        tb.connect(blocks.null_source(gr.sizeof_gr_complex), (sink, ch))


def _heartbeat(fields, period_s):
    from gnuradio import blocks
    return blocks.message_strobe(pmt_dict(kind="alive", **fields), max(50, int(1000 * period_s)))


class node_top_block(gr.top_block):
    """A PCP node on its radio, reporting to the fusion over ZeroMQ.

    Args:
        testbed, settings: the testbed and settings_from_testbed(testbed).
        node_id: this node's id (role node).
        radio: the node's cohere.radio.Radio (source, sink, nchan, latency L).
        hub_start: hub sample of this node's sample 0 (sim across processes).
        record: path prefix of a SigMF recording of the RX stream (channel 0).
    """

    def __init__(self, testbed, settings, node_id, radio, hub_start=None, record=None):
        from gnuradio import zeromq
        from .node import pcp_node

        gr.top_block.__init__(self, f"cohere_node_{node_id}")
        s = settings
        self.node_id = int(node_id)
        self.slot = s.slots[self.node_id]
        self.radio = radio
        self.config = s.config.replace(latency=int(radio.latency or 0))
        self.incarnation = (os.getpid() << 20) ^ int(time.time() * 1000) & 0xFFFFF
        self.node = pcp_node(self.config, self.slot, mode=s.mode, values=s.values,
                             seed=s.value_seed, timing_advance=s.timing_advance)
        _connect_radio(self, radio, self.node)
        self.record = record
        if record:
            from gnuradio import blocks
            self.recorder = blocks.file_sink(gr.sizeof_gr_complex, record + ".sigmf-data", False)
            self.connect((radio.source, 0), self.recorder)
        pull, pub = control_endpoints(testbed)
        timeout = testbed.zmq["timeout"]
        self.reporter = node_reporter(self.node_id, self.incarnation)
        fields = dict(id=self.node_id, incarnation=self.incarnation)
        if hub_start is not None:
            fields["hub_start"] = int(hub_start)
        self.heartbeat = _heartbeat(fields, timeout / 4)
        self.to_fusion = zeromq.push_msg_sink(pull, 100, False)
        self.from_fusion = zeromq.sub_msg_source(pub, 100, False)
        self.listener = fusion_listener()
        self.msg_connect(self.node, "events", self.reporter, "events")
        self.msg_connect(self.reporter, "out", self.to_fusion, "in")
        self.msg_connect(self.heartbeat, "strobe", self.to_fusion, "in")
        self.msg_connect(self.from_fusion, "out", self.listener, "in")

    def report(self):
        out = {"id": self.node_id, "slot": self.slot, "latency": self.config.latency,
               "cfo_estimate": self.node.control.cfo_estimate,
               "retunes": [{"sample": int(at), "cfo": float(f)}
                           for at, f in self.node.control.retune_log],
               "rounds": to_json(self.node.rounds),
               "fusion_results": self.listener.results}
        if self.radio.monitor is not None:
            radio = self.radio.monitor.report()
            out["radio_events"] = radio
            if radio["invalid_from"] is not None:  # rounds measured with an invalid L
                for r in out["rounds"]:
                    r["latency_invalid"] = r["index"] >= radio["invalid_from"]
        return out


class fusion_top_block(gr.top_block):
    """The PCP fusion node on its radio, with the node monitor and the round
    results over ZeroMQ (JSON lines to `jsonl_path`)."""

    def __init__(self, testbed, settings, radio, jsonl_path=None):
        from gnuradio import zeromq
        from .fusion import pcp_fusion

        gr.top_block.__init__(self, "cohere_fusion")
        s = settings
        self.radio = radio
        self.config = s.config.replace(latency=int(radio.latency or 0))
        # results_writer needs only the sums: no raw spectra kept for every round
        self.fusion = pcp_fusion(self.config, rounds=s.rounds, keep_symbols=False,
                                 ranging=s.timing_advance)
        _connect_radio(self, radio, self.fusion)
        pull, pub = control_endpoints(testbed)
        timeout = testbed.zmq["timeout"]
        self.from_nodes = zeromq.pull_msg_source(pull, 100, True)
        self.to_nodes = zeromq.pub_msg_sink(pub, 100, True)
        self.monitor = node_monitor(list(s.slots), timeout)
        self.writer = results_writer(self.fusion.control, s, jsonl_path, self.monitor)
        self.heartbeat = _heartbeat(dict(id=s.fusion_id), timeout / 4)
        self.msg_connect(self.from_nodes, "out", self.monitor, "in")
        self.msg_connect(self.fusion, "results", self.writer, "results")
        self.msg_connect(self.writer, "out", self.to_nodes, "in")
        self.msg_connect(self.heartbeat, "strobe", self.to_nodes, "in")

    def publish_end(self):
        self.to_nodes.to_basic_block()._post(pmt.intern("in"), pmt_dict(kind="end"))


def run_until_done(tb, should_stop=lambda: False, poll_s=0.1, on_poll=None, interrupt=None):
    """Run a top block until it ends by itself, should_stop() is true, or
    SIGINT/SIGTERM arrives; returns the reason ("done", "stopped", "signal").
    interrupt() is called before tb.stop() (blocks whose work() waits)."""
    signalled = threading.Event()
    previous = {}

    def handler(signum, frame):
        signalled.set()

    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGINT, signal.SIGTERM):
            previous[sig] = signal.signal(sig, handler)
    finished = threading.Event()
    tb.start()
    waiter = threading.Thread(target=lambda: (tb.wait(), finished.set()), daemon=True)
    waiter.start()
    reason = "done"
    try:
        while not finished.wait(poll_s):
            if on_poll:
                on_poll()
            if signalled.is_set() or should_stop():
                reason = "signal" if signalled.is_set() else "stopped"
                if interrupt:
                    interrupt()
                tb.stop()
                break
        waiter.join()
    finally:
        for sig, h in previous.items():
            signal.signal(sig, h)
    return reason
