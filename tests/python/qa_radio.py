# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Radio families, testbed files and latency calibration.

Hardware tests use device arguments that cannot reach the network: UHD
`type=b200` (USB discovery only), Pluto `usb:`, a Soapy driver that does not
exist. No test here needs a radio.
"""

import json

import pytest
import yaml
from cohere_testing import run_app

from gnuradio.cohere.radio import RadioError, make_hub, open_radio
from gnuradio.cohere.testbed_file import TestbedError as BadTestbed  # not collected by pytest
from gnuradio.cohere.testbed_file import load_testbed

BASE = {"fc": 920e6, "fs": 5e6, "nodes": [{"id": 0, "radio": "sim"}]}


def cli(*args, cwd):
    return run_app(cwd, *args, timeout=300, check=False)


@pytest.mark.parametrize("change,message", [
    (lambda d: d.pop("fc"), "missing fc"),
    (lambda d: d.update(fs=-1), "fs must be > 0"),
    (lambda d: d["nodes"].append({"id": 0}), "duplicate node id 0"),
    (lambda d: d["nodes"][0].update(radio="hackrf"), "unknown radio family 'hackrf'"),
    (lambda d: d["nodes"][0].update(role="boss"), "unknown role"),
    (lambda d: d["nodes"][0].update(gian=3), "unknown key"),
    (lambda d: d.update(colour="red"), "unknown key"),
    (lambda d: d["nodes"][0].update(antennas=9), "antennas must be in 1..8"),
    (lambda d: d["nodes"][0].update(position=[1, 2, 3]), "position"),
    (lambda d: d["nodes"][0].update(latency=-3), "latency"),
    (lambda d: d["nodes"].append({"id": 1, "radio": "soapy"}), "needs args naming its driver"),
    (lambda d: d.update(nodes=[]), "non-empty list"),
    (lambda d: d.update(emulator={"noise_power": "loud"}), "noise_power must be a number"),
    (lambda d: d["nodes"].extend([{"id": 1, "role": "fusion"}, {"id": 2, "role": "fusion"}]), "more than one"),
    (lambda d: d.update(zmq={"hub": "tcp://127.0.0.1:5600", "fusion": "tcp://127.0.0.1:5599"}),
     "one of them is the hub's"),
    # integers are not truncated (1.5 used to become 1), nor bools taken as 1
    (lambda d: d["nodes"][0].update(id=1.5), r"id must be an integer, got 1\.5"),
    (lambda d: d["nodes"][0].update(id=True), "id must be an integer, got True"),
    (lambda d: d["nodes"][0].update(antennas=1.5), r"antennas must be an integer, got 1\.5"),
    (lambda d: d["nodes"][0].update(latency=2.7), r"latency must be an integer, got 2\.7"),
    (lambda d: d["nodes"][0].update(latency=1e30), "latency must be in 0..16777216"),
    (lambda d: d["nodes"][0].update(buffer_size=0.5), r"buffer_size must be an integer, got 0\.5"),
    (lambda d: d["nodes"][0].update(buffer_size=0), "buffer_size must be in 1.."),
    (lambda d: d.update(fs=True), "fs must be a number, got True"),
    # the emulator seed (null and 'abc' were tracebacks, -1 failed later in the hub)
    (lambda d: d.update(seed=None), "seed must be an integer, got None"),
    (lambda d: d.update(seed="abc"), "seed must be an integer, got 'abc'"),
    (lambda d: d.update(seed=-1), "seed must be in 0..18446744073709551615, got -1"),
    (lambda d: d.update(seed=1.7), r"seed must be an integer, got 1\.7"),
    (lambda d: d.update(pcp={"value_seed": -1}), "pcp: value_seed must be in 0.."),
    (lambda d: d.update(pcp={"seed": 2.5}), r"pcp: seed must be an integer, got 2\.5"),
    (lambda d: d.update(pcp={"rounds": True}), "pcp: rounds must be an integer"),
    # emulator ranges (they failed later, when the hub was built)
    (lambda d: d.update(emulator={"noise_power": -1}), "emulator: noise_power must be >= 0"),
    (lambda d: d.update(emulator={"link_delay": "abc"}), "emulator: link_delay must be a number"),
    (lambda d: d.update(emulator={"link_delay": -2}), "emulator: link_delay must be >= 0"),
    (lambda d: d.update(emulator={"link_delay": [[0, 1], [1, 0]]}), "link_delay must be a number or a 1x1"),
    (lambda d: d.update(emulator={"leakage_db": float("inf")}), "leakage_db must be <= 0"),
    (lambda d: d.update(emulator={"chain_phase_spread": 4}), "chain_phase_spread must be in 0..3.14"),
    # zmq: 1e300 s overflowed message_strobe's period; wildcards cannot be connected to
    (lambda d: d.update(zmq={"timeout": 1e300}), "zmq: timeout must be > 0 and <= 86400"),
    (lambda d: d.update(zmq={"join_timeout": 1e6}), "zmq: join_timeout must be > 0 and <= 86400"),
    (lambda d: d.update(zmq={"hub": "tcp://*:5940"}), r"zmq: hub: host '\*' is bind-only"),
    (lambda d: d.update(zmq={"fusion": "tcp://0.0.0.0:5950"}), "zmq: fusion: host '0.0.0.0' is bind-only"),
    # Pluto TX gain is attenuation: + used to be clamped to full power
    (lambda d: d["nodes"].append({"id": 1, "radio": "pluto", "tx_gain": 10}),
     r"node 1: tx_gain must be in -89\.75\.\.0 dB for a pluto radio"),
    (lambda d: d["nodes"].append({"id": 1, "radio": "pluto", "tx_gain": -90}), "tx_gain must be in"),
    (lambda d: d["nodes"].append({"id": 1, "radio": "pluto", "antennas": 2}),
     "antennas must be 1 for a pluto radio"),
])
def test_testbed_validation(change, message):
    """Invalid testbed files raise TestbedError (a ValueError) naming the problem."""
    raw = yaml.safe_load(yaml.safe_dump(BASE))
    change(raw)
    with pytest.raises(BadTestbed, match=message):
        load_testbed(raw)


def test_testbed_file_roundtrip(tmp_path):
    """A file with all families loads; YAML's dotless exponents (1e-4 is a
    string in YAML 1.1) are read as numbers; node lookup and hub indices work."""
    text = """
name: lab
fc: 920e6
fs: 5e6
emulator: {noise_power: 1e-4, loopback_db: -30}
nodes:
  - {id: 3, role: fusion, radio: sim, position: [0, 0]}
  - {id: 7, radio: uhd, args: "type=b200", tx_gain: 50, rx_gain: 30}
  - {id: 9, radio: pluto, uri: "usb:1.5.5", latency: 4123}
  - {id: 11, radio: soapy, args: "driver=lime"}
"""
    path = tmp_path / "tb.yaml"
    path.write_text(text)
    tb = load_testbed(str(path))
    assert tb.fc == 920e6 and tb.emulator["noise_power"] == 1e-4
    assert tb.fusion.id == 3 and tb.index(9) == 2 and tb.node(9).latency == 4123
    with pytest.raises(BadTestbed, match="no node with id 5"):
        tb.node(5)


@pytest.mark.parametrize("latency", [0, 137, 5000])
def test_calibrate_latency_emulator_exact(tmp_path, latency):
    """calibrate-latency on the emulator recovers a configured latency exactly
    (integer L), reports the spread over trials (far below one sample at
    30 dB loopback SNR), and --write stores L in the testbed file."""
    path = tmp_path / "tb.yaml"
    path.write_text(yaml.safe_dump({
        "fc": 920e6, "fs": 5e6, "seed": 4, "emulator": {"noise_power": 1e-5},
        "nodes": [{"id": 0, "radio": "sim", "latency": latency, "ppm": 2.0, "phase_noise": 1e-19},
                  {"id": 1, "radio": "sim"}]}))
    out = tmp_path / "cal.json"
    r = cli("calibrate-latency", "--config", str(path), "--node", "0", "--trials", "6",
            "--max-latency", "6000", "--json", str(out), "--write", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    result = json.loads(out.read_text())
    assert result["latency"] == latency
    assert result["detected"] == 6 and result["spread_samples"] < 0.1
    assert len(result["per_trial"]) == 6
    assert load_testbed(str(path)).node(0).latency == latency


HARDWARE = [
    ({"id": 0, "radio": "uhd", "args": "type=b200"}, "uhd: cannot open device 'type=b200'"),
    ({"id": 0, "radio": "pluto", "uri": "usb:"}, "pluto: cannot open device 'usb:'"),
    ({"id": 0, "radio": "soapy", "args": "driver=cohere_no_such_driver"},
     "soapy: cannot open device 'driver=cohere_no_such_driver'"),
]


@pytest.mark.parametrize("node,message", HARDWARE)
def test_hardware_family_without_device(node, message):
    """Without hardware, opening a uhd/pluto/soapy radio gives one clear
    RadioError naming the family and device arguments (no traceback)."""
    tb = load_testbed({"fc": 920e6, "fs": 1e6, "nodes": [node]})
    with pytest.raises(RadioError) as info:
        open_radio(tb, 0)
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)
    if node["radio"] == "uhd":  # UHD's reason spans lines: keep it whole, minus the arrow
        assert "No devices found" in str(info.value) and "type: b200" in str(info.value)
        assert "--->" not in str(info.value)


@pytest.mark.parametrize("node,message", HARDWARE[:1])
def test_app_reports_missing_device_in_one_line(tmp_path, node, message):
    """An app given a radio that is not there exits 1 with one line on stderr
    naming the family and device, not a traceback."""
    path = tmp_path / "tb.yaml"
    path.write_text(yaml.safe_dump({"fc": 920e6, "fs": 1e6, "nodes": [node]}))
    r = cli("calibrate-latency", "--config", str(path), "--node", "0", cwd=tmp_path)
    assert r.returncode == 1
    assert message in r.stderr and "Traceback" not in r.stderr


def test_sim_radio_needs_hub_and_uses_file_order():
    """The sim family maps node ids to hub indices in file order and reports
    the emulated latency."""
    tb = load_testbed({"fc": 920e6, "fs": 1e6, "nodes": [
        {"id": 5, "radio": "sim", "latency": 12}, {"id": 2, "radio": "sim", "antennas": 2}]})
    with pytest.raises(RadioError, match="needs the emulator hub"):
        open_radio(tb, 5)
    hub = make_hub(tb)
    a, b = open_radio(tb, 5, hub=hub), open_radio(tb, 2, hub=hub)
    assert a.latency == 12 and b.latency == 0 and b.nchan == 2
    assert hub.num_antennas(1) == 2


def test_radio_monitor_reports_what_invalidates_the_latency():
    """radio_monitor records an RX gap (rx_time re-tagged after sample 0) and
    the TX sink's async reports (gr-uhd's (uhd_async_msg . dict) pairs and
    plain dicts; burst_ack is not a problem), counts them per kind and marks
    L invalid from the earliest one; a stream with only the start tag keeps L
    valid."""
    import numpy as np
    import pmt
    from gnuradio import blocks, gr

    from gnuradio.cohere.radio.monitor import radio_monitor

    def tag(offset):
        t = gr.tag_t()
        t.offset, t.key = offset, pmt.intern("rx_time")
        t.value = pmt.make_tuple(pmt.from_uint64(0), pmt.from_double(0.0))
        return t

    def report(msg):
        d = pmt.dict_add(pmt.make_dict(), pmt.intern("event_code"), msg)
        return d

    def run(tags, msgs):
        tb = gr.top_block()
        mon = radio_monitor("qa")
        tb.connect(blocks.vector_source_c(np.zeros(8000, np.complex64).tolist(), False, 1, tags),
                   mon)
        for m in msgs:
            mon.to_basic_block()._post(pmt.intern("async"), m)
        tb.run()
        return mon.report()

    clean = run([tag(0)], [report(pmt.list1(pmt.intern("burst_ack")))])
    assert clean["latency_valid"] and clean["events"] == []
    under = pmt.cons(pmt.intern("uhd_async_msg"), report(pmt.list2(pmt.intern("underflow"),
                                                                   pmt.intern("time_error"))))
    bad = run([tag(0), tag(5000)], [under, report(pmt.intern("seq_error"))])
    assert not bad["latency_valid"] and bad["invalid_from"] == 0
    assert bad["counts"] == {"overflow": 1, "underflow": 1, "time_error": 1, "seq_error": 1}
    assert [e["sample"] for e in bad["events"] if e["event"] == "overflow"] == [5000]


def test_radio_monitor_counts_samples_against_the_clock():
    """For drivers without timestamps (Pluto, Soapy) the monitor compares the
    samples received with samp_rate times the elapsed time: a stream that
    keeps up is fine, one that falls 0.2 s behind (more than rate_slack) has
    lost samples: an rx_rate_gap that invalidates L, at the sample where it
    shows. A fake clock makes it exact: at each check it reads the time at
    which a radio would have delivered the samples seen so far, plus 0.2 s
    once the stream has passed sample 200000 (a stall there)."""
    import numpy as np
    import pytest
    from gnuradio import blocks, gr

    from gnuradio.cohere.radio.monitor import radio_monitor

    fs, stall_at = 1e6, 200_000

    def run(stall):
        now = {"t": 0.0}
        mon = radio_monitor("qa", samp_rate=fs, rate_slack=0.05, clock=lambda: now["t"])
        check = mon._check_rate

        def timed_check(end):  # the clock as the radio's samples would set it
            now["t"] = end / fs + (0.2 if stall and end > stall_at else 0.0)
            check(end)

        mon._check_rate = timed_check
        tb = gr.top_block()
        tb.connect(blocks.vector_source_c(np.zeros(400_000, np.complex64).tolist(), False), mon)
        tb.run(4096)
        return mon.report()

    ok = run(False)
    assert ok["latency_valid"] and ok["counts"] == {}
    bad = run(True)
    assert bad["counts"] == {"rx_rate_gap": 1}, bad["events"]
    # found by the first check past the stall (a work call covers <= 4096 items)
    assert not bad["latency_valid"] and stall_at < bad["invalid_from"] <= stall_at + 4096
    with pytest.raises(ValueError, match="rate_slack"):
        radio_monitor("qa", samp_rate=fs, rate_slack=0)


def test_testbed_file_that_is_not_text(tmp_path):
    """A binary file gives the testbed error naming the file, not a
    UnicodeDecodeError traceback."""
    path = tmp_path / "binary.yaml"
    path.write_bytes(b"\xff\xfe\x00 fs: 1")
    with pytest.raises(BadTestbed, match="not a UTF-8 text file"):
        load_testbed(str(path))


def test_testbed_integers_accept_integral_values(tmp_path):
    """Integral floats and YAML 1.1's dotless exponents (strings) are the
    integers they spell; a big seed stays exact; a Pluto tx_gain of 0 or
    -89.75 dB is in range."""
    path = tmp_path / "tb.yaml"
    path.write_text("""
fc: 920e6
fs: 1e6
seed: 18446744073709551615
emulator: {link_delay: [[0, 2.5, 1], [2.5, 0, 1], [1, 1, 0]], leakage_db: -.inf}
nodes:
  - {id: 2.0, antennas: 2.0, latency: 1e3, buffer_size: 4096.0}
  - {id: 3, radio: pluto, tx_gain: 0, latency: 7}
  - {id: 4, radio: pluto, tx_gain: -89.75, latency: 7}
pcp: {value_seed: 5.0}
zmq: {timeout: 86400}
""")
    tb = load_testbed(str(path))
    n = tb.node(2)
    assert (n.id, n.antennas, n.latency, n.buffer_size) == (2, 2, 1000, 4096)
    assert all(isinstance(v, int) for v in (n.id, n.antennas, n.latency, n.buffer_size))
    assert tb.seed == 2**64 - 1 and tb.pcp["value_seed"] == 5
    assert tb.emulator["link_delay"] == [[0, 2.5, 1], [2.5, 0, 1], [1, 1, 0]]
    assert tb.node(3).tx_gain == 0 and tb.node(4).tx_gain == -89.75
    assert make_hub(tb).link_delay(0, 1) == 2.5


def test_testbed_node_errors_name_the_file(tmp_path):
    """An error in a node of a file names the file too (not only the node)."""
    path = tmp_path / "tb.yaml"
    path.write_text("fc: 920e6\nfs: 1e6\nnodes:\n  - {id: 0, latency: 2.7}\n")
    with pytest.raises(BadTestbed) as info:
        load_testbed(str(path))
    assert str(info.value) == f"{path}: node 0: latency must be an integer, got 2.7"


@pytest.mark.parametrize("text,app,message", [
    ("seed:\n", ("calibrate-latency", "--node", "0"), "seed must be an integer, got None"),
    ("seed: -1\n", ("hub",), "seed must be in 0.."),
    ("pcp: {value_seed: -1}\n", ("node", "--id", "1"), "pcp: value_seed must be in 0.."),
    ("emulator: {noise_power: -1}\n", ("hub",), "emulator: noise_power must be >= 0"),
    ("zmq: {timeout: 1e300}\n", ("node", "--id", "1"), "zmq: timeout must be > 0 and <= 86400"),
    ('zmq: {hub: "tcp://*:5940"}\n', ("fusion",), "zmq: hub: host '*' is bind-only"),
])
def test_apps_reject_bad_testbed_values_in_one_line(tmp_path, text, app, message):
    """A bad value in the testbed file: exit code 2 and one line naming the
    file and the field (they were tracebacks, or exit 1 later from the hub,
    the node or message_strobe)."""
    path = tmp_path / "tb.yaml"
    path.write_text("fc: 920e6\nfs: 1e6\nnodes:\n  - {id: 0, role: fusion}\n  - {id: 1}\n" + text)
    r = cli(*app, "--config", str(path), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and message in lines[0], r.stderr


def test_pluto_rejects_positive_tx_gain_before_opening(monkeypatch):
    """A positive Pluto tx_gain (set after loading, bypassing the file check)
    raises a ValueError naming tx_gain (also a RadioError, for the apps)
    before the device is opened; it used to give attenuation 0, full TX
    power. A valid tx_gain -10 gives attenuation 10 dB."""
    import sys
    import types

    import gnuradio
    from gnuradio.cohere.radio import pluto

    calls = []

    class Dev:
        def __init__(self, *args):
            calls.append(("make", args))

        def __getattr__(self, name):
            return lambda *args: calls.append((name, args))

    iio = types.ModuleType("gnuradio.iio")
    iio.fmcomms2_source_fc32 = iio.fmcomms2_sink_fc32 = Dev
    monkeypatch.setitem(sys.modules, "gnuradio.iio", iio)
    monkeypatch.setattr(gnuradio, "iio", iio, raising=False)
    tb = load_testbed({"fc": 920e6, "fs": 1e6, "nodes": [
        {"id": 1, "radio": "pluto", "uri": "usb:1.2.3", "tx_gain": -10, "latency": 5}]})
    open_radio(tb, 1)
    assert [a for name, a in calls if name == "set_attenuation"] == [(0, 10.0)]
    for value in (10, 0.5, -89.8, float("nan")):
        calls.clear()
        tb.node(1).tx_gain = value
        with pytest.raises(ValueError, match="tx_gain") as info:
            open_radio(tb, 1)
        assert isinstance(info.value, RadioError) and calls == []
    tb.node(1).tx_gain, tb.node(1).buffer_size = -10, 0.5
    with pytest.raises(ValueError, match="buffer_size"):
        pluto.check_node(tb.node(1))


@pytest.mark.parametrize("kwargs,field", [
    ({"samp_rate": "abc"}, "samp_rate"), ({"samp_rate": None}, "samp_rate"),
    ({"samp_rate": True}, "samp_rate"), ({"samp_rate": -1.0}, "samp_rate"),
    ({"rate_slack": "0.1"}, "rate_slack")])
def test_radio_monitor_rejects_bad_parameters(kwargs, field):
    """radio_monitor raises ValueError naming the parameter (samp_rate="abc"
    was a TypeError from the comparison)."""
    from gnuradio.cohere.radio.monitor import radio_monitor

    with pytest.raises(ValueError, match=field):
        radio_monitor("qa", **kwargs)
