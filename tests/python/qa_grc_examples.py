# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""GRC integration: our block YAMLs and the example flowgraphs, through GNU Radio's own GRC.

The GRC platform (gnuradio.grc.core.platform.Platform, what `grcc` and
gnuradio-companion use) loads the system block library plus this repository's
grc/ directory, then every examples/*.grc is loaded, validated, turned into
Python and, when it is a headless emulator-only flowgraph, run to completion.

Environment (set by tests/CMakeLists.txt; defaults allow a bare pytest run):
    COHERE_SOURCE_DIR   repository root (grc/, examples/)
    COHERE_BUILD_DIR    build directory (PYTHONPATH=build/pythonpath for gnuradio.cohere)
"""

import glob
import logging
import os
import subprocess
import sys

import pytest
import yaml

from gnuradio import gr
from gnuradio.grc.core import Constants
from gnuradio.grc.core.generator import Generator
from gnuradio.grc.core.platform import Platform

SOURCE_DIR = os.path.abspath(os.environ.get(
    "COHERE_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", "..")))
BUILD_DIR = os.path.abspath(os.environ.get(
    "COHERE_BUILD_DIR", os.path.join(SOURCE_DIR, "build")))
GRC_DIR = os.path.join(SOURCE_DIR, "grc")
EXAMPLES_DIR = os.path.join(SOURCE_DIR, "examples")

BLOCK_FILES = sorted(glob.glob(os.path.join(GRC_DIR, "*.block.yml")))
EXAMPLE_FILES = sorted(glob.glob(os.path.join(EXAMPLES_DIR, "*.grc")))

# GNU Radio's Python runs the generated scripts (the one the module is built for).
GR_PYTHON = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else sys.executable
RUN_TIMEOUT_S = 120

# Blocks that need hardware or an outside peer: such flowgraphs are generated but not run.
# GRC marks hardware I/O with the `throttle` flag; blocks_throttle* carry it too but are
# plain software rate limiters.
EXTERNAL_IO_PREFIXES = ("uhd_", "soapy_", "iio_", "audio_", "osmosdr_", "rtlsdr_",
                        "zeromq_", "network_", "pdu_udp_", "blocks_udp_", "blocks_tcp_")


def _block_key(path):
    with open(path, encoding="utf-8") as fp:
        return yaml.safe_load(fp)["id"]


class _Collector(logging.Handler):
    """Keeps the warning/error records GRC logs while loading the block library."""

    def __init__(self):
        super().__init__(level=logging.WARNING)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def grc(tmp_path_factory):
    """A GRC Platform with the system block library plus this repository's grc/ directory.

    Our directory is appended last to the search path: GRC lets a later file
    override an earlier block with the same id, so the blocks of this source tree
    win over an installed copy. The block cache goes to a temporary file instead
    of ~/.cache/grc_gnuradio. Yields (platform, log records mentioning our files).
    """
    saved_cache = Constants.CACHE_FILE
    Constants.CACHE_FILE = str(tmp_path_factory.mktemp("grc_cache") / "cache.json")
    collector = _Collector()
    grc_logger = logging.getLogger("gnuradio.grc")
    grc_logger.addHandler(collector)
    try:
        platform = Platform(
            name="gr-cohere GRC test",
            prefs=gr.prefs(),
            version=gr.version(),
            version_parts=(gr.major_version(), gr.api_version(), gr.minor_version()),
        )
        paths = [p for p in platform.config.block_paths
                 if os.path.realpath(p) != os.path.realpath(GRC_DIR)]
        platform.build_library(paths + [GRC_DIR])
    finally:
        grc_logger.removeHandler(collector)
        Constants.CACHE_FILE = saved_cache
    names = [os.path.basename(f) for f in BLOCK_FILES] + [GRC_DIR]
    ours = [r for r in collector.records
            if any(n in r.getMessage() for n in names)]
    yield platform, ours


def _load(platform, grc_file):
    """Parse, rewrite and validate a .grc file; returns (flow_graph, error messages)."""
    flow_graph = platform.make_flow_graph()
    flow_graph.grc_file_path = grc_file
    flow_graph.import_data(platform.parse_flow_graph(grc_file))
    flow_graph.rewrite()
    flow_graph.validate()
    return flow_graph, flow_graph.get_error_messages()


def _generate(flow_graph, out_dir):
    generator = Generator(flow_graph, str(out_dir))
    generator.write()
    return generator.file_path


def _child_env():
    """The test's environment for a script run in another directory: relative entries of
    PYTHONPATH / LD_LIBRARY_PATH (e.g. PYTHONPATH=build/pythonpath) made absolute."""
    env = os.environ.copy()
    for var in ("PYTHONPATH", "LD_LIBRARY_PATH"):
        if env.get(var):
            env[var] = os.pathsep.join(os.path.abspath(p) if p else p
                                       for p in env[var].split(os.pathsep))
    return env


def _uses_external_io(flow_graph):
    for block in flow_graph.get_enabled_blocks():
        if block.key.startswith(EXTERNAL_IO_PREFIXES):
            return True
        if "throttle" in block.flags and not block.key.startswith("blocks_throttle"):
            return True
    return False


# ---------------------------------------------------------------------------- blocks

def test_block_files_exist():
    """The repository ships GRC block definitions (grc/*.block.yml) and examples (examples/*.grc)."""
    assert BLOCK_FILES, f"no *.block.yml in {GRC_DIR}"
    assert EXAMPLE_FILES, f"no *.grc in {EXAMPLES_DIR}"


# GRC parameters whose default differs from the constructor's on purpose
GRC_DEFAULT_DIFFERS = {
    ("cohere_burst_scheduler_cc", "echo_offset"):
        "an echo set in GRC needs an offset >= D + L; 2048 suits the default D",
    ("cohere_pcp_config", "num_nodes"): "3, the size of the example flowgraph",
    ("cohere_pcp_fusion", "keep_symbols"):
        "a flowgraph streams for long: no per-round spectra kept unless asked",
}
# constructor parameters that GRC does not show
GRC_NOT_SHOWN = {
    ("cohere_pcp_node", "drop_requests"): "fault injection for tests",
}
GRC_ALIASES = {"capture_nodes": "capture"}


def _split_top_level(text):
    """Split a signature's argument list at the commas outside brackets."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        depth += ch in "([{"
        depth -= ch in ")]}"
        if ch == "," and depth == 0:
            parts.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return parts + ([cur.strip()] if cur.strip() else [])


def _constructor_defaults(ctor):
    """{parameter: default (inspect.Parameter.empty if none or not a literal)}
    of a Python callable or of a pybind11 block class."""
    import ast
    import inspect

    try:
        return {k: v.default for k, v in inspect.signature(ctor).parameters.items()
                if k != "self"}
    except (TypeError, ValueError):
        pass
    first = ctor.__init__.__doc__.strip().split("\n")[0]  # __init__(self: X, a: int = 1) -> None
    out = {}
    for arg in _split_top_level(first[first.index("(") + 1:first.rindex(") ->")]):
        name, _, rest = arg.partition(":")
        if name.strip() == "self":
            continue
        default = inspect.Parameter.empty
        if " = " in rest:
            try:
                default = ast.literal_eval(rest.split(" = ", 1)[1])
            except (ValueError, SyntaxError):
                pass
        out[name.strip()] = default
    return out


def _grc_constructor(doc):
    """The callable that a block YAML's template builds (first cohere.X( in it)."""
    import re

    import gnuradio

    templates = doc.get("templates", {})
    text = " ".join(str(templates.get(k, "")) for k in ("make", "var_make")) + str(doc.get("value", ""))
    obj = gnuradio
    for part in re.search(r"\b(cohere(?:\.\w+)+)\(", text).group(1).split("."):
        obj = getattr(obj, part)
    return obj


@pytest.mark.parametrize("block_file", BLOCK_FILES, ids=os.path.basename)
def test_block_parameters_match_the_constructor(block_file):
    """Every constructor parameter has a GRC parameter (GRC_NOT_SHOWN apart), with
    the constructor's default (GRC_DEFAULT_DIFFERS apart, each with its reason):
    the Kalman variances, a testbed's radio latency and four PCP schedule fields
    had drifted apart or were missing."""
    import inspect
    import math

    import gnuradio.cohere.pcp  # noqa: F401 (the YAMLs build from these packages)
    import gnuradio.cohere.tdd  # noqa: F401

    with open(block_file, encoding="utf-8") as fp:
        doc = yaml.safe_load(fp)
    key = doc["id"]
    ctor = _constructor_defaults(_grc_constructor(doc))
    shown = {GRC_ALIASES.get(p["id"], p["id"]): p for p in doc.get("parameters", [])}
    missing = [n for n in ctor if n not in shown and (key, n) not in GRC_NOT_SHOWN]
    assert not missing, f"{key}: constructor parameters without a GRC parameter: {missing}"
    for name, param in shown.items():
        if name not in ctor or ctor[name] is inspect.Parameter.empty:
            continue
        text = str(param.get("default", ""))
        if param.get("dtype") == "string":
            value = text.strip("'\"")
        else:
            try:
                value = eval(text, {"math": math, "float": float})  # noqa: S307 (our YAML)
            except NameError:
                continue  # a flowgraph variable (samp_rate)
        same = value == ctor[name] or (
            isinstance(value, (int, float)) and isinstance(ctor[name], (int, float))
            and math.isclose(value, ctor[name], rel_tol=1e-9))
        if (key, name) in GRC_DEFAULT_DIFFERS:
            assert not same, f"{key}.{name}: listed as differing but equal; drop it from the list"
            continue
        assert same, f"{key}.{name}: GRC default {text!r}, constructor default {ctor[name]!r}"


@pytest.mark.parametrize("block_file", BLOCK_FILES, ids=os.path.basename)
def test_block_loads(grc, block_file):
    """Each grc/*.block.yml loads into the GRC platform from this source tree, passes
    GRC's schema check without warnings, and has a category and non-empty documentation."""
    platform, log_records = grc
    key = _block_key(block_file)
    name = os.path.basename(block_file)
    problems = [r.getMessage() for r in log_records if name in r.getMessage()]
    assert not problems, f"GRC reported problems loading {name}:\n" + "\n".join(problems)
    assert key in platform.blocks, f"block {key!r} ({name}) not in the GRC platform"
    block_cls = platform.blocks[key]
    assert os.path.realpath(block_cls.loaded_from) == os.path.realpath(block_file), \
        f"{key} loaded from {block_cls.loaded_from}, not from the source tree"
    assert block_cls.documentation.get("", "").strip(), f"{key}: empty documentation"
    assert block_cls.category and block_cls.category[0] == "Cohere", \
        f"{key}: category {block_cls.category!r} is not under [Cohere]"
    assert "python" in block_cls.flags, f"{key}: missing the 'python' flag"


def test_default_hub_id_matches_testbed(grc):
    """The sources' and sinks' default 'hub' is the id GRC gives the first Virtual Testbed
    dropped on a canvas (block key + '_0'), so default blocks connect without editing."""
    platform, _ = grc
    testbed_id = "cohere_virtual_testbed"
    assert testbed_id in platform.blocks
    for key in ("cohere_virtual_radio_source_c", "cohere_virtual_radio_sink_c"):
        params = {p["id"]: p for p in platform.blocks[key].parameters_data}
        assert params["hub"]["default"] == testbed_id + "_0", key


def _default_flow_graph(platform):
    """GRC's default flowgraph (options + samp_rate) plus one of each emulator block
    with its default parameters, wired like the example."""
    fg = platform.make_flow_graph()
    fg.import_data(platform.parse_flow_graph(None))
    fg.options_block.params["generate_options"].set_value("no_gui")
    blocks = {}
    for key in ("cohere_virtual_testbed", "cohere_virtual_radio_sink_c",
                "cohere_virtual_radio_source_c", "analog_sig_source_x", "blocks_null_sink"):
        block = fg.new_block(key)
        block.params["id"].set_value(key + "_0")
        blocks[key] = block
    blocks["analog_sig_source_x"].params["type"].set_value("complex")
    blocks["blocks_null_sink"].params["type"].set_value("complex")
    blocks["cohere_virtual_radio_source_c"].params["node"].set_value("1")
    fg.connect(blocks["analog_sig_source_x"].sources[0],
               blocks["cohere_virtual_radio_sink_c"].sinks[0])
    fg.connect(blocks["cohere_virtual_radio_source_c"].sources[0],
               blocks["blocks_null_sink"].sinks[0])
    return fg, blocks


def _check(fg):
    """Rewrite, evaluate every 'hide' expression, validate; returns the error messages."""
    fg.rewrite()
    hides = {}
    for block in fg.blocks:
        for param in block.params.values():
            hides[(block.name, param.key)] = param.hide
    fg.validate()
    return hides, fg.get_error_messages()


def test_blocks_with_defaults_validate(grc):
    """Our blocks with their default parameters (and the default flowgraph's samp_rate)
    validate in GRC, and every 'hide' expression evaluates to none/part/all."""
    platform, _ = grc
    fg, _ = _default_flow_graph(platform)
    hides, errors = _check(fg)
    assert not errors, "GRC errors:\n" + "\n".join(errors)
    bad = {k: v for k, v in hides.items() if v not in ("none", "part", "all")}
    assert not bad, f"bad hide values: {bad}"


@pytest.mark.parametrize("key, param, value", [
    ("cohere_virtual_testbed", "num_nodes", "0"),
    ("cohere_virtual_testbed", "num_nodes", "65"),
    ("cohere_virtual_testbed", "samp_rate", "-1.0"),
    ("cohere_virtual_testbed", "antennas", "9"),
    ("cohere_virtual_testbed", "antennas", "[1, 2, 1]"),
    ("cohere_virtual_testbed", "ppm", "[0, 1, 2]"),
    ("cohere_virtual_testbed", "noise_power", "-1"),
    ("cohere_virtual_testbed", "phase_noise", "[0, -1e-18]"),
    ("cohere_virtual_testbed", "positions", "[(0, 0)]"),
    ("cohere_virtual_testbed", "leakage_db", "3.0"),
    ("cohere_virtual_testbed", "seed", "1.5"),
    ("cohere_virtual_radio_source_c", "nchan", "9"),
    ("cohere_virtual_radio_source_c", "node", "-1"),
    ("cohere_virtual_radio_source_c", "nsamples", "-5"),
    ("cohere_virtual_radio_source_c", "timeout_ms", "0"),
    ("cohere_virtual_radio_sink_c", "nchan", "0"),
    ("cohere_virtual_radio_sink_c", "timeout_ms", "20000"),
    ("cohere_virtual_radio_sink_c", "hub", "no_such_testbed"),
    # values the constructors refuse (an audit found the asserts let them by)
    ("cohere_preamble_detector_cc", "preambles", "[[0j] * 64]"),
    ("cohere_preamble_detector_cc", "preambles", "[[1e-20] * 64]"),
    ("cohere_preamble_detector_cc", "preambles", "[[1, float('nan')] * 32]"),
    ("cohere_preamble_detector_cc", "samp_rate", "float('inf')"),
    ("cohere_cfo_derotator_cc", "cfo", "float('inf')"),
    ("cohere_cfo_derotator_cc", "samp_rate", "float('inf')"),
    ("cohere_ofdm_pilot_estimator", "pilot_values", "[0] * 4"),
    ("cohere_burst_scheduler_cc", "echo_phase", "float('nan')"),
    ("cohere_burst_scheduler_cc", "echo_offset", "2 ** 62 + 1"),
])
def test_invalid_values_flagged(grc, key, param, value):
    """An invalid parameter value (range, per-node list length, type, unknown testbed id)
    makes GRC report an error on that block, before any code is generated."""
    platform, _ = grc
    fg, blocks = _default_flow_graph(platform)
    if key not in blocks:  # a DSP block, unconnected: its own asserts still run
        blocks[key] = fg.new_block(key)
        blocks[key].params["id"].set_value(key + "_0")
        _check(fg)
        assert not [m for elem, m in blocks[key].iter_error_messages() if not elem.is_port], \
            f"{key}: errors with the default values"
    blocks[key].params[param].set_value(value)
    _, errors = _check(fg)
    # errors of the block itself (assertions) and of its params; not "port not connected"
    block_errors = [m for elem, m in blocks[key].iter_error_messages() if not elem.is_port]
    assert block_errors, f"{key}.{param} = {value}: no error reported (all errors: {errors})"


# -------------------------------------------------------------------------- examples

@pytest.mark.parametrize("grc_file", EXAMPLE_FILES, ids=os.path.basename)
def test_example_uhd_start_time_has_a_time_base(grc_file):
    """A UHD block given a start time has its device time set to 0 first (Sync:
    Unknown PPS): PC-clock and GPS syncs set the time to epoch seconds, so a
    start time of a few seconds is in the past, and with No Sync the device
    time is unknown (the USRP example started at 1.0 s on PC-clock time)."""
    with open(grc_file, encoding="utf-8") as fp:
        doc = yaml.safe_load(fp)
    for block in doc.get("blocks", []):
        if not block["id"].startswith("uhd_usrp_"):
            continue
        params = block["parameters"]
        if float(params.get("start_time", -1.0)) >= 0.0:
            assert params.get("sync") == "sync", \
                f"{block['name']}: start time {params['start_time']} with sync {params.get('sync')}"


@pytest.mark.parametrize("grc_file", EXAMPLE_FILES, ids=os.path.basename)
def test_example_validates_and_generates(grc, grc_file, tmp_path):
    """Each examples/*.grc loads and validates in GRC without errors, and the Python
    GRC generates from it is syntactically valid."""
    platform, _ = grc
    flow_graph, errors = _load(platform, grc_file)
    assert not errors, f"{os.path.basename(grc_file)}: GRC errors:\n" + "\n".join(errors)
    assert flow_graph.is_valid()
    script = _generate(flow_graph, tmp_path)
    assert os.path.isfile(script), script
    with open(script, encoding="utf-8") as fp:
        compile(fp.read(), script, "exec")


@pytest.mark.parametrize("grc_file", EXAMPLE_FILES, ids=os.path.basename)
def test_example_runs_to_completion(grc, grc_file, tmp_path):
    """Each headless (no_gui), emulator-only example runs with GNU Radio's Python and
    exits with status 0 by itself within the time limit (GUI or hardware flowgraphs
    are skipped)."""
    platform, _ = grc
    name = os.path.basename(grc_file)
    flow_graph, errors = _load(platform, grc_file)
    assert not errors, f"{name}: GRC errors:\n" + "\n".join(errors)
    if flow_graph.get_option("generate_options") != "no_gui":
        pytest.skip(f"{name}: generate_options is "
                    f"{flow_graph.get_option('generate_options')!r}, not no_gui")
    if _uses_external_io(flow_graph):
        pytest.skip(f"{name}: uses hardware or external I/O blocks")
    # With run_options 'prompt' the script waits for Enter and would stop at once on
    # EOF instead of running to completion.
    assert flow_graph.get_option("run_options") == "run", \
        f"{name}: a headless example must use run_options 'run' (run to completion)"
    script = _generate(flow_graph, tmp_path)
    try:
        proc = subprocess.run([GR_PYTHON, "-u", script], cwd=str(tmp_path), env=_child_env(),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT_S)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"{name}: did not finish within {RUN_TIMEOUT_S} s\n"
                    f"stdout:\n{exc.stdout}\nstderr:\n{exc.stderr}")
    assert proc.returncode == 0, (f"{name}: exit status {proc.returncode}\n"
                                  f"stdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")


def test_pcp_example_sums_three_nodes(grc, tmp_path):
    """examples/pcp_three_nodes.grc (issue 4, acceptance 6): the PCP Fusion Node
    and three PCP Nodes placed in GRC on the Virtual Testbed. After the CFO
    acquisition and the ranging round, every round's sums include all three
    nodes, and the superposed payload pilots add up coherently to about 3 (the
    number of nodes that sent; 3 e^{j eps} averaged over 24 pilots, so within
    0.1 for phase errors of a few degrees)."""
    import re

    platform, _ = grc
    flow_graph, errors = _load(platform, os.path.join(EXAMPLES_DIR, "pcp_three_nodes.grc"))
    assert not errors, errors
    script = _generate(flow_graph, tmp_path)
    proc = subprocess.run([GR_PYTHON, "-u", script], cwd=str(tmp_path), env=_child_env(),
                          stdin=subprocess.DEVNULL, capture_output=True, text=True,
                          timeout=RUN_TIMEOUT_S)
    assert proc.returncode == 0, proc.stderr
    parts = re.findall(r"participants \. #\[([0-9 ]*)\]", proc.stdout)
    arrived = [float(x) for x in re.findall(r"arrived \. ([-0-9.e]+)", proc.stdout)]
    assert len(parts) == len(arrived) == 12, proc.stdout[-2000:]
    assert parts[:2] == ["", ""]  # acquisition, ranging
    assert all(p.split() == ["1", "2", "3"] for p in parts[2:]), parts
    assert all(abs(a - 3.0) < 0.1 for a in arrived[2:]), arrived


@pytest.mark.parametrize("grc_name, block_name, param, value, flagged", [
    # an AP's antennas must be its config's N (the run failed in hier_block2.connect)
    ("tdd_two_aps.grc", "ap2", "num_antennas", "2", True),
    # a PCP slot must be within the config's K (ValueError only at run time)
    ("pcp_three_nodes.grc", "node3", "slot", "4", True),
    ("pcp_three_nodes.grc", "node3", "slot", "3", False),
    # freq_var0 is the constant-velocity model's: the paper model takes any
    # (GRC refused -1 in a field it hides)
    ("tdd_two_aps.grc", "cohere_kalman_phase_tracker_0", "freq_var0", "-1.0", False),
])
def test_asserts_that_need_the_config_or_the_model(grc, grc_name, block_name, param, value,
                                                   flagged):
    """Asserts that compare a block's parameter with its config block, or apply
    to one model only, flag exactly the values the constructors reject."""
    platform, _ = grc
    fg, errors = _load(platform, os.path.join(EXAMPLES_DIR, grc_name))
    assert not errors, errors
    block = next(b for b in fg.blocks if b.name == block_name)
    block.params[param].set_value(value)
    _, errors = _check(fg)
    block_errors = [m for elem, m in block.iter_error_messages() if not elem.is_port]
    assert bool(block_errors) == flagged, (grc_name, block_name, param, value, block_errors)


def test_ofdm_estimator_without_pilots_flagged(grc):
    """A carrier map without pilots is flagged by GRC (the constructor refuses it)."""
    platform, _ = grc
    fg, _ = _default_flow_graph(platform)
    est = fg.new_block("cohere_ofdm_pilot_estimator")
    est.params["id"].set_value("est0")
    est.params["fft_len"].set_value("8")
    est.params["cp_len"].set_value("2")
    est.params["carrier_map"].set_value("[0, 1, 1, 1, 1, 1, 1, 0]")
    est.params["pilot_values"].set_value("[]")
    _check(fg)
    assert [m for elem, m in est.iter_error_messages() if not elem.is_port]
