# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Hub, fusion and nodes as separate processes over ZeroMQ (127.0.0.1 only).

The processes are the real apps (`cohere hub`, `cohere fusion`, `cohere
node`); their JSON outputs are compared with pcp.run_network(), which runs
the same testbed in one process. Waits are bounded (a safety limit that fails
the test), never timing assertions.
"""

import json
import os
import signal
import socket
import subprocess
import threading
import time

import numpy as np
import pytest
import yaml
import zmq
from cohere_testing import PYTHON, child_env, run_app

from gnuradio import gr
from gnuradio.cohere import pcp
from gnuradio.cohere.hubnet import (DATA, END, END_REPLACED, END_RUN, END_SILENCED,
                                    SILENCE_AHEAD, HubConnection, HubServer, _pack, _unpack)
from gnuradio.cohere.pcp.distributed import fusion_top_block, settings_from_testbed
from gnuradio.cohere.radio import make_hub, open_radio, sim
from gnuradio.cohere.testbed_file import TestbedError as BadTestbed  # not collected by pytest
from gnuradio.cohere.testbed_file import load_testbed

K = 4
LIMIT_S = 90  # safety limit of every wait (a hung run fails instead of blocking ctest)


def free_port_pair():
    """A port p with p and p + 1 free on 127.0.0.1 (the fusion binds both)."""
    for _ in range(50):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port >= 65534:
            continue
        try:
            with socket.socket() as s:
                s.bind(("127.0.0.1", port + 1))
            return port
        except OSError:
            continue
    raise RuntimeError("no free port pair on 127.0.0.1")


def write_testbed(path, rounds, nodes=K, **zmq_opts):
    """Fusion (id 0) and `nodes` nodes (ids 1..nodes) with distinct oscillators
    and sub-sample delays between them (positions), AWGN at every receiver."""
    rng = np.random.default_rng(5)
    nodes = [{"id": 0, "role": "fusion", "position": [0.0, 0.0], "ppm": 0.0}] + [None] * nodes
    for k in range(1, len(nodes)):
        d, b = rng.uniform(3, 15), rng.uniform(0, 2 * np.pi)
        nodes[k] = {"id": k, "position": [float(d * np.cos(b)), float(d * np.sin(b))],
                    "ppm": float(rng.uniform(-10, 10))}
    raw = {"name": "qa_multiprocess", "fc": 920e6, "fs": 5e6, "seed": 7,
           "emulator": {"noise_power": 1e-9}, "nodes": nodes,
           "pcp": {"rounds": rounds, "oac_symbols": 2, "seed": 1, "value_seed": 3},
           "zmq": {"hub": f"tcp://127.0.0.1:{free_port_pair()}",
                   "fusion": f"tcp://127.0.0.1:{free_port_pair()}", **zmq_opts}}
    with open(path, "w") as f:
        yaml.safe_dump(raw, f)
    return str(path)


class Apps:
    """The processes of one run (killed at teardown if still alive)."""

    def __init__(self, cwd, config):
        self.cwd, self.config, self.procs = cwd, config, []

    def start(self, *args, log):
        proc = subprocess.Popen([PYTHON, "-m", "gnuradio.cohere.apps.cli", *args,
                                 "--config", self.config, "--out-dir", "out"],
                                cwd=self.cwd, env=child_env(), stdout=open(self.cwd / log, "w"),
                                stderr=subprocess.STDOUT)
        proc.log = self.cwd / log
        self.procs.append(proc)
        return proc

    def finish(self, proc):
        code = proc.wait(LIMIT_S)
        assert code == 0, f"{proc.args[3:]} exited with {code}:\n{proc.log.read_text()}"

    def kill_all(self):
        for p in self.procs:
            if p.poll() is None:
                p.kill()
                p.wait()

    def rounds(self):
        try:
            with open(self.cwd / "out" / "fusion.jsonl") as f:
                return [json.loads(line) for line in f if line.endswith("\n")]
        except OSError:
            return []

    def wait_for(self, what, predicate):
        deadline = time.monotonic() + LIMIT_S
        while not predicate():
            assert time.monotonic() < deadline, f"gave up waiting for {what}"
            assert all(p.poll() in (None, 0) for p in self.procs), \
                "\n".join(p.log.read_text() for p in self.procs if p.poll() not in (None, 0))
            time.sleep(0.1)


@pytest.fixture
def apps(tmp_path):
    holder = {}

    def make(config):
        holder["apps"] = Apps(tmp_path, config)
        return holder["apps"]

    yield make
    if "apps" in holder:
        holder["apps"].kill_all()


def test_frames_roundtrip_and_reject_garbage():
    """A frame carries kind, session, offset and the samples of every channel
    exactly; malformed frames are recognised (None), never misread."""
    x = (np.arange(12) + 1j * np.arange(12)[::-1]).astype(np.complex64).reshape(2, 6)
    kind, session, offset, y = _unpack(_pack(DATA, 2, 7, 123456789012, x))
    assert (kind, session, offset) == (DATA, 7, 123456789012) and np.array_equal(x, y)
    assert _unpack(_pack(END, 1, 3, 5))[:3] == (END, 3, 5)
    header, payload = _pack(DATA, 2, 7, 0, x)
    assert _unpack([header, payload[:-8]]) is None
    assert _unpack([b"XXXX" + header[4:], payload]) is None
    assert _unpack([header]) is None


@pytest.mark.parametrize("section,change,message", [
    ("pcp", {"rounds": 0}, "rounds must be >= 1"),
    ("pcp", {"roundz": 3}, "unknown key"),
    ("pcp", {"mode": "magic"}, "mode must be one of"),
    ("pcp", {"fft_len": 15}, "fft_len"),
    ("zmq", {"hub": "127.0.0.1:5600"}, "zmq: hub must be 'tcp://HOST:PORT'"),
    ("zmq", {"fusion": "tcp://127.0.0.1:65535"}, "zmq: fusion"),
    ("zmq", {"timeout": 0}, "timeout must be > 0"),
])
def test_pcp_and_zmq_sections_are_validated(tmp_path, section, change, message):
    """Bad `pcp` or `zmq` settings raise TestbedError naming the field."""
    raw = yaml.safe_load(open(write_testbed(tmp_path / "t.yaml", 3)))
    raw[section].update(change)
    with pytest.raises(BadTestbed, match=message):
        settings_from_testbed(load_testbed(raw))


def test_apps_reject_bad_ids_and_roles_in_one_line(tmp_path):
    """An unknown node id, the fusion's id given to `cohere node`, and a
    testbed without a fusion give one clear line and exit code 2."""
    config = write_testbed(tmp_path / "t.yaml", 3)
    for args, message in ((("node", "--id", "9"), "no node with id 9"),
                          (("node", "--id", "0"), "role 'fusion'")):
        proc = run_app(tmp_path, *args, "--config", config, check=False, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr
    raw = yaml.safe_load(open(config))
    raw["nodes"][0]["role"] = "node"
    with open(tmp_path / "nofusion.yaml", "w") as f:
        yaml.safe_dump(raw, f)
    proc = run_app(tmp_path, "fusion", "--config", tmp_path / "nofusion.yaml", check=False,
                   timeout=120)
    assert proc.returncode == 2 and "no node has role fusion" in proc.stderr, proc.stderr


def test_processes_reproduce_the_single_process_run(tmp_path, apps):
    """Acceptance 1: hub + fusion + 4 node processes on 127.0.0.1 give the
    same run as pcp.run_network() in one process with the same testbed and
    seeds: bit-identical OAC sums, rho and participants in every round, and
    the same detection indices at every node (the transport carries samples
    exactly and every process joins before streaming starts). Node 1 also
    records its RX stream in SigMF."""
    config = write_testbed(tmp_path / "t.yaml", rounds=5)
    run = apps(config)
    hub = run.start("hub", log="hub.log")
    fusion = run.start("fusion", log="fusion.log")
    nodes = {k: run.start("node", "--id", str(k), *(["--sigmf"] if k == 1 else []),
                          log=f"node{k}.log") for k in range(1, K + 1)}
    for proc in [hub, fusion, *nodes.values()]:
        run.finish(proc)

    testbed = load_testbed(config)
    s = settings_from_testbed(testbed)
    ref = pcp.run_network(s.config, s.rounds, testbed=sim.hub_options(testbed),
                          seed=s.value_seed, mode=s.mode, timing_advance=s.timing_advance)
    got = run.rounds()
    assert [r["round"] for r in got] == [r["round"] for r in ref.fusion] == list(range(5))
    for mine, theirs in zip(got, ref.fusion):
        sums = np.array(mine["sums"], dtype=float).view(complex).ravel()
        assert np.array_equal(sums, theirs["sums"]), f"round {mine['round']}"
        assert mine["rho"] == theirs["rho"] and mine["noise_var"] == theirs["noise_var"]
        assert mine["participant_slots"] == list(theirs["participants"])
    assert [1, 2, 3, 4] in [r["participants"] for r in got]  # not a trivially empty run
    for k in range(1, K + 1):
        with open(tmp_path / "out" / f"node_{k}.json") as f:
            node = json.load(f)
        assert [r["index"] for r in node["rounds"]] == [r["index"] for r in ref.nodes[k]]
        assert node["hub_start"] == 0
        if k == 1:
            check_sigmf_recording(str(tmp_path / "out" / "node_1"), s.config.samples_for(5),
                                  node, s.config)
    with open(tmp_path / "out" / "hub.json") as f:
        hub_report = json.load(f)
    assert all(len(n["sessions"]) == 1 for n in hub_report["nodes"])


def check_sigmf_recording(prefix, nsamples, node, config):
    """Node 1's SigMF recording: every RX sample it received (cf32_le), and the
    per-node metadata and annotations of its JSON report."""
    data = np.fromfile(prefix + ".sigmf-data", np.complex64)
    assert len(data) == nsamples and np.any(data != 0)
    with open(prefix + ".sigmf-meta") as f:
        meta = json.load(f)
    g = meta["global"]
    assert g["core:datatype"] == "cf32_le" and g["core:sample_rate"] == config.samp_rate
    assert g["cohere:latency"] == 0 and g["cohere:latency_valid"] is True
    assert g["cohere:cfo_estimate"] == node["cfo_estimate"]
    assert meta["captures"][0]["core:frequency"] == config.center_freq
    starts = [a["core:sample_start"] for a in meta["annotations"]]
    assert starts == sorted(starts)
    labels = [a.get("core:label") for a in meta["annotations"]]
    assert labels.count("retune") == len(node["retunes"]) >= 1
    assert sum(1 for x in labels if x.startswith("request")) == len(node["rounds"])


def test_killed_node_is_silenced_reported_and_rejoins(tmp_path, apps):
    """Acceptance 2: node 2 is killed mid-run (SIGKILL). The hub declares it
    silent after zmq.timeout, the fusion completes the following rounds with
    nodes 1, 3, 4 and lists node 2 as missing (and lost on the control
    plane); restarted, node 2 joins again at the hub's current sample time,
    reacquires and is counted again. The hub then ends the run on SIGINT:
    the nodes end cleanly, the fusion (fewer rounds than pcp.rounds) reports
    the run incomplete and exits non-zero."""
    config = write_testbed(tmp_path / "t.yaml", rounds=2000, timeout=1.0, rate=300000.0)
    run = apps(config)
    hub = run.start("hub", log="hub.log")
    fusion = run.start("fusion", log="fusion.log")
    nodes = {k: run.start("node", "--id", str(k), log=f"node{k}.log") for k in range(1, K + 1)}
    run.wait_for("a round with every node",
                 lambda: any(r["participants"] == [1, 2, 3, 4] for r in run.rounds()))
    nodes[2].kill()
    nodes[2].wait()
    run.procs.remove(nodes[2])
    killed_at = len(run.rounds())
    run.wait_for("a round without node 2",
                 lambda: any(r["missing"] == [2] and r["participants"] == [1, 3, 4]
                             for r in run.rounds()[killed_at:]))
    restarted_at = len(run.rounds())
    again = run.start("node", "--id", "2", log="node2b.log")
    run.wait_for("node 2 counted again",
                 lambda: any(2 in r["participants"] for r in run.rounds()[restarted_at:]))
    hub.send_signal(signal.SIGINT)
    for proc in [hub, again, nodes[1], nodes[3], nodes[4]]:
        run.finish(proc)
    assert fusion.wait(LIMIT_S) == 1, fusion.log.read_text()

    rounds = run.rounds()
    after_kill = rounds[killed_at:]
    # every round completed; node 2 missing in a contiguous stretch, the others always in
    assert all(r["participants"] in ([1, 3, 4], [1, 2, 3, 4]) for r in after_kill)
    gone = [r["round"] for r in after_kill if 2 in r["missing"]]
    assert gone and gone == list(range(gone[0], gone[-1] + 1))
    with open(tmp_path / "out" / "hub.json") as f:
        hub_nodes = {n["id"]: n for n in json.load(f)["nodes"]}
    events = [e["event"] for e in hub_nodes[2]["events"]]
    assert events[:3] == ["joined", "silent", "rejoined"], events
    assert all("silent" not in [e["event"] for e in hub_nodes[k]["events"]] for k in (0, 1, 3, 4))
    silent_at = hub_nodes[2]["events"][1]["sample"]
    second = hub_nodes[2]["sessions"][1]
    assert second["start"] >= silent_at
    with open(tmp_path / "out" / "node_2.json") as f:
        node2 = json.load(f)
    assert node2["hub_start"] == second["start"]
    with open(tmp_path / "out" / "fusion.json") as f:
        summary = json.load(f)
    liveness = [(e["id"], e["event"]) for e in summary["liveness"]]
    assert (2, "lost") in liveness and (2, "rejoined") in liveness
    assert summary["ended"].startswith("incomplete") and summary["rounds"] < 2000


# ---------------------------------------------------------------------------
# bad input and dead peers (the hub's and the node's side of hubnet in this
# process; the apps where the exit code matters)
# ---------------------------------------------------------------------------

@pytest.fixture
def hub_server():
    """make(nodes, nsamples, **kw): a HubServer in this process for a fusion
    (id 0, 1 antenna) and nodes {id: antennas}; stopped at teardown."""
    servers = []

    def make(nodes, nsamples, **kw):
        testbed = load_testbed({
            "name": "qa_hubnet", "fc": 920e6, "fs": 1e6,
            "nodes": [{"id": 0, "role": "fusion"}] + [{"id": k, "antennas": a}
                                                       for k, a in nodes.items()],
            "zmq": {"hub": f"tcp://127.0.0.1:{free_port_pair()}",
                    "fusion": f"tcp://127.0.0.1:{free_port_pair()}"}})
        server = HubServer(testbed, make_hub(testbed), nsamples, testbed.zmq["hub"], **kw)
        server.started = False
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.interrupt()
        if server.started:
            server.tb.stop()
            server.tb.wait()
        server.close()


def ask(endpoint, *parts):
    """One request to a REP endpoint; its JSON reply (fails after 5 s)."""
    sock = zmq.Context.instance().socket(zmq.REQ)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    try:
        sock.send_multipart(list(parts))
        assert sock.poll(5000), f"no reply to {parts!r}"
        return json.loads(sock.recv())
    finally:
        sock.close()


def raw_node(server, node_id, nchan=1):
    """Join `server` as node_id without a flowgraph: (join reply, TX PUSH, RX PULL)."""
    reply = ask(server.endpoint, json.dumps({"op": "join", "id": node_id,
                                             "nchan": nchan}).encode())
    assert reply["ok"], reply
    ctx = zmq.Context.instance()
    tx, rx = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    for sock, endpoint in ((tx, reply["tx"]), (rx, reply["rx"])):
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(endpoint)
    return reply, tx, rx


def test_hub_answers_every_control_request(hub_server):
    """A bad control request (not JSON, unknown, an id or nchan that is no
    integer, inf included, several frames) gets an error reply and is
    counted; the hub keeps answering: a valid join afterwards is accepted."""
    server = hub_server({1: 1}, 10000)
    server.start_control()
    bad = ([b"not json"], [b"[1, 2]"], [b'{"op": "join"}'], [b'{"op": "join", "id": "abc"}'],
           [b'{"op": "join", "id": NaN}'], [b'{"op": "join", "id": 1e400}'],
           [b'{"op": "join", "id": 1, "nchan": 1e400}'],
           [b'{"op": "join", "id": 1, "nchan": 1}', b"extra"])
    for parts in bad:
        reply = ask(server.endpoint, *parts)
        assert reply["ok"] is False and reply["error"], (parts, reply)
    assert ask(server.endpoint, b'{"op": "join", "id": 1, "nchan": 1}')["ok"]
    assert server.bad_requests == len(bad)


def test_hub_drops_malformed_tx_frames(hub_server, capfd):
    """Malformed TX frames (garbage, a bad header, another channel count than
    the node's antennas) are dropped, counted in the hub's summary and
    logged rate-limited; the feeder keeps going and the run ends."""
    server = hub_server({1: 2}, 4096, timeout=30.0, join_timeout=30.0)
    server.start_control()
    nodes = {k: raw_node(server, k, n) for k, n in ((0, 1), (1, 2))}
    session = nodes[1][0]["session"]
    bad = [[b"garbage"], [b"XXXX" + bytes(20), b""],
           _pack(DATA, 1, session, 0, np.ones((1, 64), np.complex64)),
           _pack(DATA, 3, session, 0, np.ones((3, 64), np.complex64))]
    bad += [[b"CHB1" + bytes(20), b"\0" * 3]] * 20
    server.started = True
    server.tb.start()
    for parts in bad:
        nodes[1][1].send_multipart(parts)
    for k, n in ((0, 1), (1, 2)):
        nodes[k][1].send_multipart(_pack(DATA, n, nodes[k][0]["session"], 0,
                                         np.ones((n, 8192), np.complex64)))
    done = threading.Event()
    threading.Thread(target=lambda: (server.tb.wait(), done.set()), daemon=True).start()
    assert done.wait(30), "the hub's run did not end"
    node1 = server.summary()[1]
    assert node1["malformed_frames"] == len(bad) and node1["tx_samples"] >= 4096
    assert [e["event"] for e in node1["events"]] == ["joined"]
    log = "".join(capfd.readouterr())
    assert 1 <= log.count("dropped a malformed TX frame") < len(bad), log


def test_silent_node_transmits_zeros_only_as_far_as_the_air_goes(hub_server):
    """The zeros of a silent node (here the fusion, which never joins) follow
    the other nodes' TX instead of running ahead without limit: tx_samples
    in the hub's summary stays within SILENCE_AHEAD of the live node's."""
    server = hub_server({1: 1}, 10 ** 9, timeout=30.0, join_timeout=0.2)
    server.start_control()
    reply, tx, rx = raw_node(server, 1)
    server.started = True
    server.tb.start()
    for i in range(5):
        tx.send_multipart(_pack(DATA, 1, reply["session"], 1000 * i,
                                np.zeros((1, 1000), np.complex64)))
    deadline = time.monotonic() + 20
    while server.summary()[1]["tx_samples"] < 5000 or server.links[0].state != "silent":
        assert time.monotonic() < deadline, server.summary()
        time.sleep(0.05)
    time.sleep(0.5)  # the silent node's feeder keeps running meanwhile
    fusion, node = server.summary()
    assert node["tx_samples"] == 5000
    assert fusion["state"] == "silent" and fusion["tx_samples"] <= 5000 + SILENCE_AHEAD, fusion


@pytest.mark.parametrize("reason,ended_by", [(END_RUN, "hub"), (END_SILENCED, "silenced"),
                                             (END_REPLACED, "replaced")])
def test_node_stream_drops_malformed_frames_and_ends_with_the_hubs_reason(reason, ended_by):
    """The node's RX source drops malformed frames (also another channel
    count than its antennas) and frames of another session, and its stream
    ends on the hub's end frame with the hub's reason: the run's end, or the
    hub declared this node silent, or another join replaced its session."""
    ctx = zmq.Context.instance()
    rx, tx = ctx.socket(zmq.PUSH), ctx.socket(zmq.PULL)
    rx.setsockopt(zmq.SNDTIMEO, 10000)
    for sock in (rx, tx):
        sock.setsockopt(zmq.LINGER, 0)
    rx_port, tx_port = (s.bind_to_random_port("tcp://127.0.0.1") for s in (rx, tx))
    conn = HubConnection("tcp://127.0.0.1:1", 1)
    conn.session = {"ok": True, "session": 5, "start": 0, "fs": 1e6, "fc": 920e6,
                    "rx": f"tcp://127.0.0.1:{rx_port}", "tx": f"tcp://127.0.0.1:{tx_port}",
                    "latency": 0, "nsamples": 100, "silence_limit": 30.0}
    tb = gr.top_block()
    tb.connect(conn.source, conn.sink)  # TX = RX: the flowgraph ends with the RX stream
    done = threading.Event()
    tb.start()
    threading.Thread(target=lambda: (tb.wait(), done.set()), daemon=True).start()
    x = np.ones((1, 100), np.complex64)
    for parts in ([b"junk"], _pack(DATA, 2, 5, 0, np.ones((2, 100), np.complex64)),
                  _pack(DATA, 1, 4, 0, x), _pack(DATA, 1, 5, 0, x),
                  _pack(END, 1, 5, 100, reason=reason)):
        rx.send_multipart(parts)
    try:
        assert done.wait(20), "the node's stream did not end"
    finally:
        conn.interrupt()
        tb.stop()
        tb.wait()
        rx.close()
        tx.close()
    assert conn.source.ended_by == ended_by and conn.source.malformed == 2
    assert conn.sink.nitems_read(0) == 100


def test_node_silenced_by_the_hub_is_told_and_fails(tmp_path, apps):
    """A node frozen (SIGSTOP) long enough for the hub to declare it silent
    gets an end frame saying so: resumed, its stream ends at once, it writes
    its JSON (ended, stream_ended_by) and exits non-zero, instead of waiting
    for the hub's silence limit and reporting a normal end."""
    config = write_testbed(tmp_path / "t.yaml", rounds=2000, nodes=1, timeout=1.0,
                           rate=200000.0)
    run = apps(config)
    hub = run.start("hub", log="hub.log")
    run.start("fusion", log="fusion.log")
    node = run.start("node", "--id", "1", log="node1.log")
    run.wait_for("node 1 and the fusion joined",
                 lambda: all(f"node {k}: joined" in hub.log.read_text() for k in (0, 1)))
    node.send_signal(signal.SIGSTOP)
    try:
        run.wait_for("node 1 silent", lambda: "node 1: silent" in hub.log.read_text())
    finally:
        node.send_signal(signal.SIGCONT)
    assert node.wait(LIMIT_S) == 1, node.log.read_text()
    with open(tmp_path / "out" / "node_1.json") as f:
        report = json.load(f)
    assert report["stream_ended_by"] == "silenced", report["ended"]
    assert "silent" in report["ended"]
    hub.send_signal(signal.SIGINT)
    run.finish(hub)


def test_fusion_with_fewer_rounds_than_configured_fails(tmp_path, apps):
    """The hub's stream (--samples) ends after about one of the 3 rounds: the
    fusion writes what it has, says the run is incomplete and exits non-zero;
    the node (its stream ended normally) and the hub exit 0."""
    config = write_testbed(tmp_path / "t.yaml", rounds=3, nodes=1)
    s = settings_from_testbed(load_testbed(config))
    run = apps(config)
    hub = run.start("hub", "--samples", str(s.config.samples_for(1)), log="hub.log")
    fusion = run.start("fusion", log="fusion.log")
    node = run.start("node", "--id", "1", log="node1.log")
    for proc in (hub, node):
        run.finish(proc)
    assert fusion.wait(LIMIT_S) == 1, fusion.log.read_text()
    with open(tmp_path / "out" / "fusion.json") as f:
        summary = json.load(f)
    assert summary["ended"].startswith("incomplete") and summary["rounds"] < 3
    assert "incomplete" in fusion.log.read_text()


def test_hub_refuses_a_run_too_long_to_count(tmp_path):
    """A run longer than the 64-bit sample counters (pcp.rounds, or
    --samples): one line naming the cause, exit code 2, no traceback."""
    config = write_testbed(tmp_path / "t.yaml", rounds=10 ** 18)
    for extra, message in (((), "pcp: 1000000000000000000 rounds"), (("--samples", "1e20"),
                                                                      "--samples")):
        proc = run_app(tmp_path, "hub", "--config", config, *extra, check=False, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr, proc.stderr
        assert "Traceback" not in proc.stderr and len(proc.stderr.splitlines()) <= 2


def test_fusion_app_keeps_no_raw_spectra(tmp_path):
    """The fusion app needs only each round's sums: pcp_fusion does not keep
    every round's payload spectra (memory would grow with the rounds)."""
    testbed = load_testbed(write_testbed(tmp_path / "t.yaml", rounds=3))
    s = settings_from_testbed(testbed)
    radio = open_radio(testbed, s.fusion_id, hub_endpoint=testbed.zmq["hub"])
    tb = fusion_top_block(testbed, s, radio)
    assert tb.fusion.control.keep_symbols is False
