# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Testbed files: one YAML describing every node, its radio and the emulator.

Example (every key is documented in docs/testbed.md)::

    name: lab
    fc: 920e6              # carrier, Hz (required)
    fs: 5e6                # sample rate, Hz (required)
    seed: 1
    emulator:              # options of the `sim` family (cohere.make_testbed)
      noise_power: 1e-4
      loopback_db: -30     # TX->RX leakage of every node, used by calibrate-latency
    nodes:
      - {id: 0, role: fusion, radio: sim, position: [0, 0]}
      - {id: 1, radio: uhd, args: "type=b200,serial=31ABCDE", tx_gain: 50, rx_gain: 30}
      - {id: 2, radio: pluto, uri: "usb:1.5.5", latency: 4123}
      - {id: 3, radio: soapy, args: "driver=lime"}
    pcp: {rounds: 20, oac_symbols: 4}     # the run of `cohere fusion` / `cohere node`
    zmq: {hub: "tcp://127.0.0.1:5600", fusion: "tcp://127.0.0.1:5610", timeout: 2.0}

Every problem raises TestbedError (a ValueError) naming the file (when
loaded from one), the node and the key; integers are never truncated.
"""

import copy
import math
import numbers
from dataclasses import dataclass, field
from typing import Optional

import yaml

from .radio import PLUTO_MAX_ATTENUATION

__all__ = ["FAMILIES", "ROLES", "TestbedError", "NodeConfig", "Testbed", "load_testbed",
           "store_latency", "parse_endpoint"]

FAMILIES = ("sim", "uhd", "pluto", "soapy")
ROLES = ("fusion", "node")

_TOP_KEYS = {"name", "fc", "fs", "seed", "emulator", "nodes", "pcp", "zmq"}
_NODE_KEYS = {"id", "role", "radio", "antennas", "args", "uri", "serial", "tx_gain", "rx_gain",
              "position", "latency", "latency_spread", "ppm", "phase_noise", "speed", "angle",
              "noise_power", "buffer_size"}
_EMULATOR_KEYS = {"noise_power", "link_gain", "link_delay", "path_loss_exponent", "ref_loss_db",
                  "ref_distance", "shadowing_db", "rayleigh", "chain_gain_std_db",
                  "chain_phase_spread", "half_duplex", "leakage_db", "loopback_db", "sfo"}


# scalar emulator options and their ranges (those of channel_hub); leakage_db
# (<= 0 dB or -inf) and link_delay (samples >= 0, scalar or per link) apart
_EMULATOR_NUMBERS = {"noise_power": {"minimum": 0}, "path_loss_exponent": {"minimum": 0},
                     "ref_loss_db": {}, "ref_distance": {"positive": True},
                     "shadowing_db": {"minimum": 0}, "chain_gain_std_db": {"minimum": 0},
                     "chain_phase_spread": {"minimum": 0, "maximum": math.pi},
                     "loopback_db": {}}
_EMULATOR_FLAGS = {"rayleigh", "half_duplex", "sfo"}

# `pcp`: the run of the fusion and node apps (PcpConfig fields and pcp_node options)
_PCP_INTS = {"rounds", "fft_len", "cp_len", "active", "pilot_spacing", "oac_symbols", "guard",
             "lookahead", "margin", "g_u", "g_d", "idle", "start", "trigger_len", "seed",
             "value_seed"}
_PCP_FLOATS = {"theta_des", "feedback_amp", "min_snr_db", "detect_threshold"}
_PCP_CHOICES = {"mode": ("pcp", "none"), "values": ("bpsk", "uniform", "gaussian")}
_PCP_FLAGS = {"timing_advance"}
PCP_DEFAULTS = {"rounds": 10, "mode": "pcp", "values": "bpsk", "value_seed": 0,
                "timing_advance": True}

# `zmq`: where the hub and the fusion listen, and the liveness timeouts
ZMQ_DEFAULTS = {"hub": "tcp://127.0.0.1:5600", "fusion": "tcp://127.0.0.1:5610",
                "timeout": 2.0, "join_timeout": 30.0, "rate": 0.0}


# bounds (documented in docs/testbed.md)
MAX_NODE_ID = 2**31 - 1
MAX_SEED = 2**64 - 1          # make_testbed's seed; NumPy takes it too
MAX_LATENCY = 2**24           # the emulator's limit (channel_hub.set_latency)
MAX_BUFFER_SIZE = 2**24       # Pluto buffer, samples
MAX_TIMEOUT = 86400.0         # zmq timeout / join_timeout, s (one day)


class TestbedError(ValueError):
    """An invalid testbed file; the message names the node and key."""


@dataclass
class NodeConfig:
    id: int
    radio: str = "sim"
    role: str = "node"
    antennas: int = 1
    args: str = ""
    uri: str = "usb:"
    serial: str = ""
    tx_gain: Optional[float] = None
    rx_gain: Optional[float] = None
    position: Optional[tuple] = None
    latency: Optional[int] = None
    latency_spread: Optional[float] = None
    ppm: float = 0.0
    phase_noise: float = 0.0
    speed: float = 0.0
    angle: float = 0.0
    noise_power: Optional[float] = None
    buffer_size: int = 32768


@dataclass
class Testbed:
    fc: float
    fs: float
    nodes: list
    name: str = "testbed"
    seed: int = 0
    emulator: dict = field(default_factory=dict)
    path: Optional[str] = None
    pcp: dict = field(default_factory=lambda: dict(PCP_DEFAULTS))
    zmq: dict = field(default_factory=lambda: dict(ZMQ_DEFAULTS))

    def node(self, node_id):
        for n in self.nodes:
            if n.id == node_id:
                return n
        raise TestbedError(f"testbed {self.name!r}: no node with id {node_id} "
                           f"(ids: {[n.id for n in self.nodes]})")

    def index(self, node_id):
        """Position of the node in the file: its index in an emulator hub."""
        return [n.id for n in self.nodes].index(self.node(node_id).id)

    @property
    def fusion(self):
        return next((n for n in self.nodes if n.role == "fusion"), None)


def _number(where, key, value, positive=False, minimum=None, maximum=None):
    """A finite real number (YAML 1.1 reads 1e-4 as a string: numeric strings
    are numbers too); a boolean is not a number."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = float(value)
    except (TypeError, ValueError, OverflowError):
        raise TestbedError(f"{where}: {key} must be a number, got {value!r}") from None
    if not math.isfinite(v) or (positive and v <= 0) or (minimum is not None and v < minimum) \
            or (maximum is not None and v > maximum):
        lo = "> 0" if positive else f">= {minimum:g}" if minimum is not None else None
        cond = (f"in {minimum:g}..{maximum:g}" if minimum is not None and maximum is not None
                else f"{lo} and <= {maximum:g}" if lo and maximum is not None
                else f"<= {maximum:g}" if maximum is not None
                else lo or "finite")
        raise TestbedError(f"{where}: {key} must be {cond}, got {value!r}")
    return v


def _integer(where, key, value, minimum=None, maximum=None):
    """An integer: an int, an integral float (2.0, 1e3) or a numeric string;
    1.5, booleans, None, NaN and infinities are errors, never truncated."""
    out = None
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        out = int(value)
    elif isinstance(value, str):
        try:
            out = int(value.strip())
        except ValueError:
            pass
    if out is None:
        try:
            v = None if isinstance(value, bool) else float(value)
        except (TypeError, ValueError, OverflowError):
            v = None
        if v is None or not math.isfinite(v) or v != int(v):
            raise TestbedError(f"{where}: {key} must be an integer, got {value!r}")
        out = int(v)
    if (minimum is not None and out < minimum) or (maximum is not None and out > maximum):
        cond = (f"in {minimum}..{maximum}" if minimum is not None and maximum is not None
                else f">= {minimum}" if minimum is not None else f"<= {maximum}")
        raise TestbedError(f"{where}: {key} must be {cond}, got {value!r}")
    return out


def _mapping(where, raw, known):
    """raw as a mapping whose keys are all in `known`; TestbedError naming
    `where` and the unknown keys otherwise."""
    if not isinstance(raw, dict):
        raise TestbedError(f"{where}: expected a mapping, got {raw!r}")
    unknown = set(raw) - set(known)
    if unknown:
        raise TestbedError(f"{where}: unknown key(s) {sorted(unknown)} (known: {sorted(known)})")
    return raw


def _parse_node(i, raw, prefix=""):
    """NodeConfig of nodes[i]; prefix ("PATH: ") leads every error message."""
    where = f"{prefix}nodes[{i}]"
    _mapping(where, raw, _NODE_KEYS)
    if "id" not in raw:
        raise TestbedError(f"{where}: missing id")
    node_id = _integer(where, "id", raw["id"], 0, MAX_NODE_ID)
    where = f"{prefix}node {node_id}"
    n = NodeConfig(id=node_id)
    n.radio = str(raw.get("radio", "sim"))
    if n.radio not in FAMILIES:
        raise TestbedError(f"{where}: unknown radio family {n.radio!r} (known: {', '.join(FAMILIES)})")
    n.role = str(raw.get("role", "node"))
    if n.role not in ROLES:
        raise TestbedError(f"{where}: unknown role {n.role!r} (known: {', '.join(ROLES)})")
    n.antennas = _integer(where, "antennas", raw.get("antennas", 1), 1, 8)
    if n.radio == "pluto" and n.antennas != 1:
        raise TestbedError(f"{where}: antennas must be 1 for a pluto radio "
                           f"(the ADALM-Pluto has 1 antenna), got {raw['antennas']!r}")
    for key in ("args", "uri", "serial"):
        if key in raw:
            setattr(n, key, str(raw[key]))
    for key in ("tx_gain", "rx_gain"):
        if raw.get(key) is not None:
            setattr(n, key, _number(where, key, raw[key]))
    if n.radio == "pluto" and n.tx_gain is not None \
            and not -PLUTO_MAX_ATTENUATION <= n.tx_gain <= 0:
        # the AD936x has TX attenuation only: tx_gain = -attenuation
        raise TestbedError(f"{where}: tx_gain must be in -{PLUTO_MAX_ATTENUATION:g}..0 dB for a "
                           f"pluto radio (attenuation = -tx_gain), got {raw['tx_gain']!r}")
    if raw.get("position") is not None:
        pos = raw["position"]
        if not isinstance(pos, (list, tuple)) or len(pos) != 2:
            raise TestbedError(f"{where}: position must be [x, y] in metres, got {pos!r}")
        n.position = tuple(_number(where, "position", p) for p in pos)
    if raw.get("latency") is not None:
        n.latency = _integer(where, "latency", raw["latency"], 0, MAX_LATENCY)
    if raw.get("latency_spread") is not None:
        n.latency_spread = _number(where, "latency_spread", raw["latency_spread"], minimum=0)
    n.ppm = _number(where, "ppm", raw.get("ppm", 0.0))
    n.phase_noise = _number(where, "phase_noise", raw.get("phase_noise", 0.0), minimum=0)
    n.speed = _number(where, "speed", raw.get("speed", 0.0), minimum=0)
    n.angle = _number(where, "angle", raw.get("angle", 0.0))
    if raw.get("noise_power") is not None:
        n.noise_power = _number(where, "noise_power", raw["noise_power"], minimum=0)
    n.buffer_size = _integer(where, "buffer_size", raw.get("buffer_size", 32768), 1,
                             MAX_BUFFER_SIZE)
    if n.radio != "sim" and n.radio == "soapy" and not n.args:
        raise TestbedError(f"{where}: a soapy radio needs args naming its driver, e.g. 'driver=lime'")
    return n


# wildcard hosts: a socket can bind them but not connect to them
_WILDCARD_HOSTS = ("*", "0.0.0.0", "::", "[::]")


def parse_endpoint(text, where="endpoint"):
    """(host, port) of a 'tcp://HOST:PORT' endpoint; TestbedError otherwise.
    Every endpoint of a testbed is bound by one process and connected to by
    the others, so HOST must be an address they can connect to: a wildcard
    ('*', 0.0.0.0) is an error."""
    if not isinstance(text, str) or not text.startswith("tcp://") or ":" not in text[6:]:
        raise TestbedError(f"{where} must be 'tcp://HOST:PORT', got {text!r}")
    host, _, port = text[6:].rpartition(":")
    try:
        port = int(port)
    except ValueError:
        port = -1
    if not host or not 1 <= port <= 65534:
        raise TestbedError(f"{where} must be 'tcp://HOST:PORT' with PORT in 1..65534, got {text!r}")
    if host in _WILDCARD_HOSTS:
        raise TestbedError(f"{where}: host {host!r} is bind-only, but the other processes "
                           f"connect to this endpoint too: name the host's address "
                           f"(e.g. tcp://127.0.0.1:{port}), got {text!r}")
    return host, port


def _parse_pcp(where, raw):
    where = f"{where}: pcp"
    raw = _mapping(where, {} if raw is None else raw,
                   _PCP_INTS | _PCP_FLOATS | set(_PCP_CHOICES) | _PCP_FLAGS)
    out = dict(PCP_DEFAULTS)
    for key, value in raw.items():
        if key in _PCP_INTS:
            if value is None and key in ("g_u", "g_d", "idle", "start"):
                out[key] = None
                continue
            seed = key in ("seed", "value_seed")
            out[key] = _integer(where, key, value, 0 if seed else None,
                                MAX_SEED if seed else None)
        elif key in _PCP_FLOATS:
            out[key] = _number(where, key, value)
        elif key in _PCP_FLAGS:
            if not isinstance(value, bool):
                raise TestbedError(f"{where}: {key} must be true or false, got {value!r}")
            out[key] = value
        else:
            if value not in _PCP_CHOICES[key]:
                raise TestbedError(f"{where}: {key} must be one of {list(_PCP_CHOICES[key])}, "
                                   f"got {value!r}")
            out[key] = value
    if out["rounds"] < 1:
        raise TestbedError(f"{where}: rounds must be >= 1, got {out['rounds']}")
    return out


def _parse_zmq(where, raw):
    where = f"{where}: zmq"
    raw = _mapping(where, {} if raw is None else raw, ZMQ_DEFAULTS)
    out = dict(ZMQ_DEFAULTS)
    out.update(raw)
    hub_host, hub_port = parse_endpoint(out["hub"], f"{where}: hub")
    fusion_host, fusion_port = parse_endpoint(out["fusion"], f"{where}: fusion")
    # the fusion binds its port and the next one (results to the nodes)
    if hub_port in (fusion_port, fusion_port + 1) and hub_host == fusion_host:
        raise TestbedError(f"{where}: the fusion uses ports {fusion_port} and {fusion_port + 1}, "
                           f"one of them is the hub's ({out['hub']})")
    for key in ("timeout", "join_timeout"):
        out[key] = _number(where, key, out[key], positive=True, maximum=MAX_TIMEOUT)
    out["rate"] = _number(where, "rate", out["rate"], minimum=0)
    return out


def _leakage_db(where, value):
    """emulator.leakage_db: <= 0 dB, or -inf (no leakage)."""
    try:
        v = None if isinstance(value, bool) else float(value)
    except (TypeError, ValueError, OverflowError):
        v = None
    if v is None:
        raise TestbedError(f"{where}: leakage_db must be a number, got {value!r}")
    if not v <= 0:  # NaN, > 0, +inf
        raise TestbedError(f"{where}: leakage_db must be <= 0 dB (or -inf), got {value!r}")
    return v


def _link_delay(where, value, num_nodes):
    """emulator.link_delay: samples >= 0, one for every link, {(tx, rx): delay}
    (from Python: YAML cannot key a mapping by a pair) or a symmetric
    num_nodes x num_nodes list of lists [tx][rx]."""
    if isinstance(value, dict):
        out = {}
        for key, delay in value.items():
            try:
                tx, rx = key
                tx, rx = (_integer(where, "link_delay", k, 0, num_nodes - 1) for k in (tx, rx))
            except (TypeError, ValueError):
                raise TestbedError(f"{where}: link_delay keys must be (tx, rx) pairs of node "
                                   f"indices 0..{num_nodes - 1}, got {key!r}") from None
            out[(tx, rx)] = _number(where, f"link_delay[{key!r}]", delay, minimum=0)
        return out
    if isinstance(value, (list, tuple)):
        if len(value) != num_nodes or any(not isinstance(row, (list, tuple))
                                          or len(row) != num_nodes for row in value):
            raise TestbedError(f"{where}: link_delay must be a number or a {num_nodes}x{num_nodes} "
                               f"list of lists (one row per node), got {value!r}")
        rows = [[_number(where, f"link_delay[{i}][{j}]", d, minimum=0)
                 for j, d in enumerate(row)] for i, row in enumerate(value)]
        for i in range(num_nodes):
            for j in range(i + 1, num_nodes):
                if rows[i][j] != rows[j][i]:
                    raise TestbedError(f"{where}: link_delay must be symmetric (the air is "
                                       f"reciprocal), got {rows[i][j]!r} at [{i}][{j}] and "
                                       f"{rows[j][i]!r} at [{j}][{i}]")
        return rows
    return _number(where, "link_delay", value, minimum=0)


def load_testbed(source):
    """Load and validate a testbed from a YAML file path or a dict."""
    path = None
    if isinstance(source, dict):
        raw = copy.deepcopy(source)
    else:
        path = str(source)
        try:
            with open(path, encoding="utf-8") as f:
                raw = yaml.safe_load(f)
        except OSError as exc:
            raise TestbedError(f"cannot read testbed file {path}: {exc.strerror}") from None
        except UnicodeDecodeError as exc:
            raise TestbedError(f"{path}: not a UTF-8 text file (byte {exc.start}: "
                               f"{exc.reason})") from None
        except yaml.YAMLError as exc:
            raise TestbedError(f"{path}: not valid YAML: {exc}") from None
    where = path or "testbed"
    _mapping(where, raw, _TOP_KEYS)
    for key in ("fc", "fs"):
        if key not in raw:
            raise TestbedError(f"{where}: missing {key} ({'carrier' if key == 'fc' else 'sample rate'}, Hz)")
    fc = _number(where, "fc", raw["fc"], positive=True)
    fs = _number(where, "fs", raw["fs"], positive=True)
    emulator = _mapping(f"{where}: emulator", raw.get("emulator") or {}, _EMULATOR_KEYS)
    # YAML 1.1 reads 1e-4 (no dot) as a string: coerce every scalar option
    for key in set(_EMULATOR_NUMBERS) & set(emulator):
        emulator[key] = _number(f"{where}: emulator", key, emulator[key],
                                **_EMULATOR_NUMBERS[key])
    if "leakage_db" in emulator:
        emulator["leakage_db"] = _leakage_db(f"{where}: emulator", emulator["leakage_db"])
    for key in _EMULATOR_FLAGS & set(emulator):
        if not isinstance(emulator[key], bool):
            raise TestbedError(f"{where}: emulator: {key} must be true or false, got {emulator[key]!r}")
    nodes_raw = raw.get("nodes")
    if not isinstance(nodes_raw, list) or not nodes_raw:
        raise TestbedError(f"{where}: nodes must be a non-empty list")
    nodes = [_parse_node(i, n, f"{path}: " if path else "") for i, n in enumerate(nodes_raw)]
    seen = set()
    for n in nodes:
        if n.id in seen:
            raise TestbedError(f"{where}: duplicate node id {n.id}")
        seen.add(n.id)
    if sum(n.role == "fusion" for n in nodes) > 1:
        raise TestbedError(f"{where}: more than one node has role fusion")
    if len(nodes) > 64:
        raise TestbedError(f"{where}: at most 64 nodes, got {len(nodes)}")
    if emulator.get("link_delay") is not None:
        emulator["link_delay"] = _link_delay(f"{where}: emulator", emulator["link_delay"],
                                             len(nodes))
    seed = _integer(where, "seed", raw.get("seed", 0), 0, MAX_SEED)
    return Testbed(fc=fc, fs=fs, nodes=nodes, name=str(raw.get("name", "testbed")),
                   seed=seed, emulator=dict(emulator), path=path,
                   pcp=_parse_pcp(where, raw.get("pcp")), zmq=_parse_zmq(where, raw.get("zmq")))


def store_latency(path, node_id, latency, spread=None):
    """Write a node's measured latency (and spread) into the testbed file,
    leaving everything else as it was (comments are not preserved)."""
    load_testbed(path)  # readable and valid before touching the file
    with open(path, encoding="utf-8") as f:
        raw = yaml.safe_load(f)
    for entry in raw["nodes"]:
        if int(entry["id"]) == int(node_id):
            entry["latency"] = int(latency)
            if spread is not None:
                entry["latency_spread"] = float(spread)
            break
    else:
        raise TestbedError(f"{path}: no node with id {node_id}")
    with open(path, "w") as f:
        yaml.safe_dump(raw, f, sort_keys=False)
