# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Integration tests of the command-line apps (`cohere demo`, `cohere showcase`, `cohere bench`).

Each app runs as a subprocess, `/usr/bin/python3 -m gnuradio.cohere.apps.cli
...`, in a temporary directory, with the environment of the test (ctest sets
PYTHONPATH, LD_LIBRARY_PATH and COHERE_BUILD_DIR). No timing is asserted.
"""

import json

import pytest

from cohere_testing import run_app

SHOWCASE_NODE_KEYS = {
    "node", "ppm", "cfo_true_hz", "cfo_effective_hz", "cfo_measured_hz", "cfo_error_hz",
    "cfo_error_effective_hz", "crb_std_hz", "pn_cfo_std_hz", "cfo_expected_std_hz",
    "timing_offset_samples", "snr_db_measured", "phase_error_rms_rad",
    "drift_rms_measured_rad", "drift_rms_truth_rad", "drift_rms_expected_rad",
    "pn_c_sum_configured", "pn_c_sum_truth", "pn_c_sum_measured",
}




def run_showcase(tmp_path, name, *extra):
    out = tmp_path / name
    json_path = out / "showcase.json"
    proc = run_app(tmp_path, "showcase", "--samples", "200000", "--out-dir", str(out),
                   "--json", str(json_path), *extra)
    assert json_path.is_file(), proc.stdout
    assert (out / "showcase.png").is_file(), proc.stdout
    assert (out / "showcase.png").stat().st_size > 10_000
    assert str(json_path) in proc.stdout, "the app must print where it wrote its files"
    with open(json_path) as f:
        result = json.load(f)
    assert {"config", "nodes", "formulas", "lo_frequency_hz"} <= result.keys()
    assert [d["node"] for d in result["nodes"]] == [1, 2]
    for d in result["nodes"]:
        assert SHOWCASE_NODE_KEYS <= d.keys(), SHOWCASE_NODE_KEYS - d.keys()
    return result


def test_showcase_cfo_within_crb_with_phase_noise(tmp_path):
    """Showcase with its default phase noise: the measured CFO of nodes 1 and 2
    is within 3 CRB standard deviations of the effective CFO.

    Tolerance: CRB of a complex tone, var(f) = 6 fs^2 / ((2 pi)^2 rho N (N^2 - 1))
    (rho = per-sample SNR, N = samples); 3 std, no absolute floor. With Wiener
    phase noise the oscillators wander around their nominal frequencies, so the
    truth the bound applies to is the effective CFO, the least-squares slope of
    the true LO phase difference hub.lo_phase(0) - hub.lo_phase(j) over the same
    samples. Against the nominal CFO, hub.lo_frequency(0) - hub.lo_frequency(j),
    the phase noise adds var = 6 fc^2 (c_0 + c_j) / (5 T) (LS slope through a
    random walk of duration T); that check uses 3 std of the sum of both.
    The same run checks the phase estimate and the phase-noise level against the
    ground truth, and that the estimated timing offset is the link delay (0).
    """
    result = run_showcase(tmp_path, "pn")
    for d in result["nodes"]:
        crb = d["crb_std_hz"]
        assert crb > 0
        assert abs(d["cfo_measured_hz"] - d["cfo_effective_hz"]) <= 3.0 * crb, d
        assert abs(d["cfo_measured_hz"] - d["cfo_true_hz"]) <= 3.0 * d["cfo_expected_std_hz"], d
        assert d["cfo_true_hz"] == pytest.approx(
            (result["config"]["ppm"][0] - d["ppm"]) * 1e-6 * result["config"]["center_freq"])
        assert d["timing_offset_samples"] == 0
        # per-sample phase error of an unbiased estimator at rho: 1 / sqrt(2 rho)
        rho = 10.0 ** (result["config"]["snr_db"] / 10.0)
        assert d["phase_error_rms_rad"] < 2.0 / (2.0 * rho) ** 0.5
        # phase-noise constant of the pair measured from the signal vs configured
        assert d["pn_c_sum_measured"] == pytest.approx(d["pn_c_sum_configured"], rel=0.5)


def test_showcase_cfo_within_crb_without_phase_noise(tmp_path):
    """Showcase without phase noise: the measured CFO is within 3 CRB standard
    deviations of the nominal truth hub.lo_frequency(0) - hub.lo_frequency(j).

    Tolerance: 3 std of the CRB of a complex tone, var(f) = 6 fs^2 /
    ((2 pi)^2 rho N (N^2 - 1)); no absolute floor (float32 samples and the
    emulator's double-precision phase are far below it).
    """
    result = run_showcase(tmp_path, "nopn", "--phase-noise", "0", "--seed", "5")
    for d in result["nodes"]:
        assert d["pn_cfo_std_hz"] == 0.0
        assert abs(d["cfo_measured_hz"] - d["cfo_true_hz"]) <= 3.0 * d["crb_std_hz"], d


def test_bench_emulator_quick(tmp_path):
    """`cohere bench emulator --quick` ends, writes its JSON with throughput rows for
    N = 2, 8, 32, the blocks.copy reference, the target verdict, the memory check
    and the machine info. Numbers are only checked for sanity (positive), never
    against a speed."""
    json_path = tmp_path / "bench.json"
    proc = run_app(tmp_path, "bench", "emulator", "--quick", "--json", str(json_path))
    assert json_path.is_file(), proc.stdout
    assert str(json_path) in proc.stdout
    with open(json_path) as f:
        result = json.load(f)
    assert {"machine", "config", "copy", "emulator", "target", "memory"} <= result.keys()
    assert {"nproc", "python", "gnuradio"} <= result["machine"].keys()
    assert result["copy"]["msps"] > 0
    assert [r["nodes"] for r in result["emulator"]] == [2, 8, 32]
    for r in result["emulator"]:
        assert {"samples_per_node", "seconds_best", "msps_per_node", "msps_aggregate",
                "ratio_to_copy"} <= r.keys()
        assert r["msps_per_node"] > 0
        assert r["msps_aggregate"] == pytest.approx(r["msps_per_node"] * r["nodes"])
    assert result["target"]["nodes"] == 8 and result["target"]["met"] in (True, False)
    mem = result["memory"]
    assert mem["rss_peak_kib"] > 0 and len(mem["trace"]) >= 2
    assert "rss_growth_25_to_100_kib" in mem


def test_bench_emulator_sched_batch_is_never_judged(tmp_path):
    """`--sched batch` runs the throughput part under SCHED_BATCH, records it,
    and never declares the target met (it is judged on the default policy)."""
    json_path = tmp_path / "bench.json"
    proc = run_app(tmp_path, "bench", "emulator", "--quick", "--no-long", "--nodes", "8",
                   "--sched", "batch", "--json", str(json_path))
    result = json.loads(json_path.read_text())
    assert result["config"]["sched"] == "batch"
    assert result["target"]["sched"] == "batch" and result["target"]["met"] is False
    assert "SCHED_BATCH" in proc.stdout


def test_demo_pcp_beats_no_sync_and_matches_its_prediction(tmp_path):
    """`cohere demo` (the README's main demo, shortened): 8 nodes, +-10 ppm,
    phase noise, random LO phases and path losses. Issue acceptance 4: the
    OAC NMSE with PCP is within 1 dB of the NMSE predicted from the measured
    phase-error statistics, and at least 20 dB better than without sync."""
    out = tmp_path / "demo"
    json_path = tmp_path / "demo.json"
    proc = run_app(tmp_path, "demo", "--rounds", "15", "--no-sync-rounds", "4", "--seed", "3",
                   "--out-dir", str(out), "--json", str(json_path))
    r = json.loads(json_path.read_text())
    assert r["nodes"] == 8 and r["rounds"] == 15
    assert set(r["phase_rmse_deg"]) >= {"pcp", "no_sync"}
    assert set(r["oac_nmse_db"]) >= {"pcp", "no_sync", "ideal"}
    nmse = r["oac_nmse_db"]
    assert abs(nmse["pcp"] - nmse["predicted_from_phase_errors"]) < 1.0, nmse
    assert nmse["pcp"] <= nmse["no_sync"] - 20.0, nmse
    assert nmse["ideal"] <= nmse["pcp"] + 0.1, nmse
    assert r["phase_rmse_deg"]["pcp"] < 5.0 and r["phase_rmse_deg"]["no_sync"] > 45.0
    assert r["participants_per_round"]["min"] == 8 and r["late_bursts"] == 0
    for name in ("constellation", "phase_cdf", "nmse"):
        path = out / f"demo_{name}.png"
        assert path.is_file() and path.stat().st_size > 10_000, name
    assert "OAC NMSE" in proc.stdout and "phase RMSE" in proc.stdout


@pytest.mark.parametrize("args,message", [
    (("--ppm", "-5"), "--ppm"), (("--phase-noise", "-1"), "--phase-noise"),
    (("--speed", "-1"), "--speed"), (("--snr-db", "nan"), "--snr-db"),
    (("--lookahead", "100"), "lookahead"), (("--cp", "0"), "cp_len")])
def test_demo_rejects_bad_options_with_its_own_message(tmp_path, args, message):
    """Bad options end with exit code 2 and a one-line message naming the
    option, before anything runs (they used to end in tracebacks, or for
    --cp 0 in a run of NaN figures that exited 0)."""
    proc = run_app(tmp_path, "demo", "-K", "2", "--rounds", "2", "--no-sync-rounds", "1",
                   "--no-plot", "--out-dir", str(tmp_path / "out"), *args, check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("args,message", [
    (("reproduce", "tdd-kalman", "--quick", "--c-nu", "nan"), "--c-nu"),
    (("reproduce", "tdd-kalman", "--stream", "--stream-c-nu=-1e-18"), "--stream-c-nu"),
    (("reproduce", "pcp", "--point", "--snr-ue", "nan"), "--snr-ue"),
    (("showcase", "--samp-rate", "0"), "--samp-rate"),
    (("showcase", "--snr-db", "nan"), "--snr-db"),
    # positive_int: OverflowError tracebacks (inf, 1e400), a crash in a binding (1e20)
    (("showcase", "--samples", "inf"), "--samples"),
    (("showcase", "--samples", "1e400"), "--samples"),
    (("showcase", "--samples", "1e20"), "--samples")])
def test_apps_reject_bad_numbers_with_their_own_message(tmp_path, args, message):
    """NaN, infinite or out-of-range numbers end with exit code 2 and a message
    naming the option (they ended in tracebacks from deep in the library, or
    for --snr-ue nan in NaN written to the JSON)."""
    proc = run_app(tmp_path, *args, "--out-dir", str(tmp_path / "out"), check=False)
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and message in proc.stderr, proc.stderr


@pytest.mark.parametrize("text", ["inf", "-inf", "nan", "1e400", "1e20", "9223372036854775808",
                                  "1.5", "2.5e0", "0", "-3", "abc", "", "1e999999999"])
def test_positive_int_rejects_what_is_not_a_positive_int64(text):
    """positive_int gives argparse's error (exit 2, naming the option) for
    non-integers, infinities, NaN and values above 2^63 - 1; it used to raise
    OverflowError (inf), pass 1e20 on to a binding, and truncate 1.5 to 1."""
    import argparse

    from gnuradio.cohere.apps.common import positive_int

    with pytest.raises(argparse.ArgumentTypeError, match="positive integer"):
        positive_int(text)


@pytest.mark.parametrize("text,value", [("1", 1), ("1e6", 10**6), ("2.0", 2), (" 7 ", 7),
                                        ("9223372036854775807", 2**63 - 1),
                                        ("123456789012345678", 123456789012345678)])
def test_positive_int_accepts_integers_exactly(text, value):
    from gnuradio.cohere.apps.common import positive_int

    assert positive_int(text) == value


@pytest.mark.parametrize("amplitude", ["1e30", "1.01", "0", "-0.5", "nan"])
def test_calibrate_latency_amplitude_is_within_full_scale(tmp_path, amplitude):
    """--amplitude is in (0, 1] of full scale (1e30 was accepted and
    overflowed the complex64 burst): exit 2 naming the option, before the
    testbed file is even read."""
    proc = run_app(tmp_path, "calibrate-latency", "--config", tmp_path / "none.yaml", "--node", "0",
                   "--amplitude", amplitude, check=False, timeout=120)
    assert proc.returncode == 2, proc.stderr
    assert "--amplitude" in proc.stderr and "(0, 1]" in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------
# configuration errors: one line naming the option, exit 2, no traceback
# ----------------------------------------------------------------------------

def _assert_usage_error(proc, message):
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr, proc.stderr
    assert message in proc.stderr.strip().splitlines()[-1], proc.stderr


BAD_CONFIGURATIONS = [
    # seeds: OverflowError / ValueError tracebacks from NumPy and the emulator
    (("showcase", "--seed", "-1"), "--seed"),
    (("reproduce", "tdd-kalman", "--quick", "--seed", "-1"), "--seed"),
    # SNR extremes: OverflowError / ZeroDivisionError / a library ValueError
    (("showcase", "--snr-db", "4000"), "--snr-db"),
    (("showcase", "--snr-db", "-4000"), "--snr-db"),
    (("demo", "--snr-db", "-4000"), "--snr-db"),
    (("reproduce", "tdd-kalman", "--quick", "--snr-ap", "5000"), "--snr-ap"),
    (("reproduce", "tdd-kalman", "--stream", "--stream-sync-snr", "5000"), "--stream-sync-snr"),
    (("reproduce", "pcp", "--point", "--snr-ue", "-5000"), "--snr-ue"),
    # the emulator's phase-noise limit, the capture limit, the testbed's geometry
    (("showcase", "--samp-rate", "1e-3"), "--phase-noise"),
    (("showcase", "--center-freq", "1e300"), "--center-freq"),
    (("demo", "--phase-noise", "1"), "--phase-noise"),
    (("demo", "--max-distance", "1e300"), "--max-distance"),
    (("demo", "--rounds", "1e12"), "--rounds"),
    (("reproduce", "tdd-kalman", "--stream", "--stream-F", "100000"), "--stream-F"),
    (("reproduce", "tdd-kalman", "--stream", "--stream-c-nu", "1"), "--stream-c-nu"),
    # sizes: TypeError in a binding, MemoryError, the library's frames >= 2
    (("showcase", "--samples", "1e10"), "--samples"),
    (("reproduce", "pcp", "--point", "--trials", "1e12"), "--trials"),
    (("reproduce", "pcp", "--trials", "2e6"), "--trials"),
    (("reproduce", "tdd-kalman", "--quick", "--frames", "1"), "--frames"),
    (("reproduce", "tdd-kalman", "--quick", "--frames", "1e9"), "--frames"),
    # errors found after parsing go through the target's parser (exit 2, was 1)
    (("reproduce", "tdd-kalman", "--stream", "--stream-N", "0"), "--stream-N"),
    (("reproduce", "tdd-kalman", "--stream", "--stream-N", "9"), "--stream-N"),
    (("reproduce", "tdd-kalman", "--stream", "--stream-K", "60"), "--stream"),
    # a short window biases the SNR and phase-noise estimates
    (("showcase", "--window", "4"), "--window"),
    # the same configuration twice gave two different results
    (("reproduce", "tdd-kalman", "--quick", "--c-nu", "5e-18", "5e-18"), "--c-nu"),
    (("reproduce", "tdd-kalman", "--quick", "--snr-ap", "-15", "-15.0"), "--snr-ap"),
    # --stream used to ignore --frames silently
    (("reproduce", "tdd-kalman", "--stream", "--frames", "100"), "--stream-frames"),
    # ... and the other SE-curve options too
    (("reproduce", "tdd-kalman", "--stream", "--c-nu", "1e-17"), "--c-nu (use --stream-c-nu)"),
    (("reproduce", "tdd-kalman", "--stream", "--N", "8"), "--N (use --stream-N)"),
    (("reproduce", "tdd-kalman", "--stream", "--quick", "--reading", "paper"),
     "--reading, --quick: options of the SE curves")]


@pytest.mark.parametrize("args,message", BAD_CONFIGURATIONS,
                         ids=[" ".join(a) for a, _ in BAD_CONFIGURATIONS])
def test_apps_reject_bad_configurations_with_their_own_message(tmp_path, args, message):
    """Out-of-range seeds, SNRs, sizes and configurations the emulator or the
    library refuse end with argparse's exit code 2 and a last line naming the
    option, before anything runs (they ended in tracebacks, or for
    --stream-N 0 in exit code 1)."""
    proc = run_app(tmp_path, *args, "--out-dir", tmp_path / "out", check=False, timeout=120)
    _assert_usage_error(proc, message)


@pytest.mark.parametrize("app", [
    ("showcase", "--samples", "20000"), ("demo", "-K", "1", "--rounds", "1"),
    ("reproduce", "pcp", "--trials", "200"),
    ("reproduce", "tdd-kalman", "--quick", "--frames", "20"),
    ("reproduce", "tdd-kalman", "--stream", "--stream-frames", "20")], ids=" ".join)
@pytest.mark.parametrize("where", ["out-dir", "json"])
def test_apps_check_their_output_paths_before_running(tmp_path, app, where):
    """An --out-dir that cannot be created, or a --json that is a directory,
    is refused before the run (exit 2 naming the option), not with a
    traceback at the end (the showcase wrote nothing after a whole run)."""
    blocker = tmp_path / "a_file"
    blocker.write_text("")
    if where == "out-dir":
        extra = ("--out-dir", blocker / "sub")
    else:
        extra = ("--out-dir", tmp_path / "out", "--json", tmp_path)
    proc = run_app(tmp_path, *app, *extra, check=False, timeout=120)
    _assert_usage_error(proc, f"--{where}")


def test_demo_help_names_both_default_output_dirs(tmp_path):
    """Without COHERE_BUILD_DIR the demo writes to ./results/demo: the help says so."""
    proc = run_app(tmp_path, "demo", "--help")
    help_text = " ".join(proc.stdout.split())
    assert "$COHERE_BUILD_DIR/results/demo, or ./results/demo" in help_text, proc.stdout


# ----------------------------------------------------------------------------
# exit code 1 when the app's own check fails (JSON still written)
# ----------------------------------------------------------------------------

def test_demo_without_participants_exits_1_and_says_why(tmp_path):
    """At -30 dB no node detects the fusion's request: every figure is NaN.
    The demo still writes its JSON, says why in the summary, and exits 1."""
    json_path = tmp_path / "demo.json"
    proc = run_app(tmp_path, "demo", "-K", "1", "--rounds", "1", "--no-sync-rounds", "1",
                   "--snr-db", "-30", "--no-plot", "--out-dir", tmp_path / "out",
                   "--json", json_path, check=False)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    assert "Traceback" not in proc.stderr
    r = json.loads(json_path.read_text())
    assert r["ok"] is False and r["participants_per_round"]["min"] == 0
    assert any("participating" in f for f in r["failures"]), r["failures"]
    assert "FAILED" in proc.stdout and "participating" in proc.stdout


def test_tdd_kalman_failed_acceptance_exits_1(tmp_path):
    """With F = 1 only, the best F cannot be the paper's 2 for c_nu = 5e-18:
    check 2_best_F_kalman fails, the summary JSON records it and the exit
    code is 1 (it was 0)."""
    out = tmp_path / "out"
    proc = run_app(tmp_path, "reproduce", "tdd-kalman", "--quick", "--f-max", "1",
                   "--frames", "200", "--reading", "paper", "--no-plot", "--out-dir", out,
                   check=False, timeout=300)
    assert proc.returncode == 1, (proc.stdout, proc.stderr)
    summary = json.loads((out / "tdd_kalman_summary.json").read_text())
    assert summary["acceptance"]["2_best_F_kalman"]["pass"] is False
    assert "[FAIL] 2_best_F_kalman" in proc.stdout and "FAILED" in proc.stdout


def test_reproduce_pcp_exit_code_follows_the_items(tmp_path):
    """The exit code is 1 exactly when an item fails (at 2000 trials item 10's
    Monte Carlo spread, about 0.5 deg, exceeds its 0.5 deg tolerance with
    seed 1; `9/10 pass` used to exit 0)."""
    json_path = tmp_path / "items.json"
    proc = run_app(tmp_path, "reproduce", "pcp", "--trials", "2000", "--no-plot",
                   "--out-dir", tmp_path / "out", "--json", json_path, check=False)
    items = json.loads(json_path.read_text())
    failed = [d["id"] for d in items if not d["pass"]]
    assert proc.returncode == (1 if failed else 0), (failed, proc.stdout, proc.stderr)
    assert ("FAILED" in proc.stdout) == bool(failed)


def test_tdd_stream_honours_json_and_exit_code(tmp_path):
    """--stream writes its summary to --json (it ignored it), takes 4e1 for an
    integer option, and exits 1 exactly when one of its checks fails (40
    frames: too few wraps of the true phase for 3_wraps_no_divergence)."""
    json_path = tmp_path / "elsewhere" / "stream.json"
    out = tmp_path / "out"
    proc = run_app(tmp_path, "reproduce", "tdd-kalman", "--stream", "--stream-N", "1",
                   "--stream-frames", "4e1", "--no-plot", "--out-dir", out,
                   "--json", json_path, check=False, timeout=120)
    assert "Traceback" not in proc.stderr, proc.stderr
    summary = json.loads(json_path.read_text())
    assert not (out / "tdd_stream.json").exists()
    failed = [k for k, r in summary["acceptance"].items() if not r["pass"]]
    assert proc.returncode == (1 if failed else 0), (failed, proc.stdout)
    assert failed, "40 frames: the wraps check was expected to fail"
