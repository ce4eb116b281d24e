# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared configuration of a streaming phase-coded-pilot (PCP) network.

The fusion node and every PCP node are built from one PcpConfig, so they agree
on the waveforms and on the schedule, both in samples. Times are on-air RX
sample indices of the node that measures them (the emulator gives every node
the same origin; on real radios each node's clock has its own).

Round r (reversed multi-user schedule, slots k = 1..K, Tp = packet length):

    T1          = start + r period         request pilot starts (the trigger
                                           preamble precedes it, ending at T1)
    T2_k - T1   = g_u + k Tp               node k's response (echo, C++)
    T3_k - T1   = g_u + g_d + (2K + 1 - k) Tp   feedback to node k (fusion)
    T4   - T1   = 2 g_u + g_d + (2K + 1) Tp     all nodes: OAC payload (echo, C++)

so T2_k - T1 = T4 - T3_k for every k: the residual CFO leaves only
2 pi df m Ts on OAC symbol m (Sahin, reversed schedule).

Waveforms (unit mean power, OFDM with the configured FFT and CP):
    trigger     Schmidl-Cox symbol of trigger_len samples (two equal halves):
                detection and coarse CFO at the nodes
    request     one OFDM symbol (Zadoff-Chu on the active subcarriers), sent
                twice after the trigger, a guard apart: the PCP pilot of step 1
                (node phase thh1 from the detector's fit on the first); the
                pair gives the node its fine CFO
    response    another such symbol (another root): the pilot nodes echo in step 2 (the
                fusion measures it by FFT on its pilots)
    feedback k  one such symbol per slot: step 3 to node k (detected by node k)
    payload     oac_symbols OFDM symbols with the carrier map (data + pilots):
                the OAC parameters on the data subcarriers, step 4.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .. import ofdm, preambles
from ..config_checks import is_finite_real, is_integer

__all__ = ["PcpConfig", "unitary_fft", "fractional_delay"]


def _symbol(values, fft_len, cp_len):
    """CP-OFDM symbol from a full centred spectrum (fft_len values), unit power."""
    spec = np.fft.ifftshift(np.asarray(values, dtype=complex))
    body = np.fft.ifft(spec) * math.sqrt(fft_len)
    body = body / math.sqrt(np.mean(np.abs(body) ** 2))
    return np.concatenate([body[fft_len - cp_len:], body]).astype(np.complex64)


def unitary_fft(body):
    """Centred unitary DFT of fft_len samples (index i is subcarrier i - N/2)."""
    body = np.asarray(body)
    return np.fft.fftshift(np.fft.fft(body, axis=-1), axes=-1) / math.sqrt(body.shape[-1])


def fractional_delay(symbols, delay, fft_len, cp_len):
    """Delay CP-OFDM symbols cyclically by `delay` samples (any real): each
    subcarrier q is multiplied by exp(-j 2 pi q delay / fft_len), which is a
    true delay of the symbol as long as |delay| stays well inside the CP."""
    sym_len = fft_len + cp_len
    x = np.asarray(symbols, dtype=complex).reshape(-1, sym_len)
    spec = np.fft.fft(x[:, cp_len:], axis=1)
    q = np.fft.fftfreq(fft_len, 1.0 / fft_len)
    body = np.fft.ifft(spec * np.exp(-2j * np.pi * q * delay / fft_len), axis=1)
    return np.concatenate([body[:, fft_len - cp_len:], body], axis=1).ravel().astype(np.complex64)


@dataclass(frozen=True)
class PcpConfig:
    """Everything the fusion node and the PCP nodes must agree on.

    num_nodes     K, slots 1..K
    samp_rate     Hz (5 Msps like the 20-Pluto testbed)
    center_freq   Hz (920 MHz)
    fft_len, cp_len, active, pilot_spacing   OFDM (256, 64, 192 active, a
                  pilot every 8th active subcarrier of the payload)
    oac_symbols   OFDM symbols of the OAC payload per round; the parameters
                  per node per round are oac_symbols x (data subcarriers)
    guard         samples between consecutive packets (Tp = fft + cp + guard):
                  keeps the band-limited tails of fractionally delayed packets
                  out of the next packet's detection window
    lookahead     D of every burst scheduler (must exceed the detector's
                  max_delay() and the link delays)
    latency       radio latency L (samples) assumed by every node
    g_u, g_d      node and fusion response times (samples); None: the minimum
                  turnaround lookahead + latency + margin
    margin        samples of slack in the derived response times and in
                  the fusion's decision point after the last response
    idle          samples between one round's payload and the next trigger
                  (the fusion estimates its noise floor there); None: minimum
    start         on-air time of the first request pilot (None: derived)
    theta_des     desired phase of every component at the fusion (rad)
    trigger_len   samples of the Schmidl-Cox trigger (two halves; coarse CFO
                  unambiguous for |CFO| < samp_rate / trigger_len)
    feedback_amp  amplitude of the strongest-needed feedback (<= 1): the
                  weakest node's feedback goes out at this amplitude
    min_snr_db    the fusion counts a response only above this SNR (per
                  sample, measured against its noise floor)
    detect_threshold  the nodes' detector threshold (metric in (0, 1)): above
                  the largest cross-correlation between two PCP pilots (about
                  0.06, checked in the tests), so a node never takes one
                  packet for another; a pilot is found down to a per-sample
                  SNR of about -7 dB (metric SNR / (1 + SNR))
    seed          seed of the pilot sequences
    """

    num_nodes: int = 8
    samp_rate: float = 5e6
    center_freq: float = 920e6
    fft_len: int = 256
    cp_len: int = 64
    active: int = 192
    pilot_spacing: int = 8
    oac_symbols: int = 4
    guard: int = 16
    lookahead: int = 3072
    latency: int = 0
    g_u: Optional[int] = None
    g_d: Optional[int] = None
    margin: int = 64
    idle: Optional[int] = None
    start: Optional[int] = None
    theta_des: float = 0.0
    trigger_len: int = 128
    feedback_amp: float = 1.0
    min_snr_db: float = 6.0
    detect_threshold: float = 0.15
    seed: int = 1

    def __post_init__(self):
        def need(cond, name, what):
            if not cond:
                raise ValueError(f"{name}: {what}, got {getattr(self, name)!r}")

        ints = ("num_nodes", "fft_len", "cp_len", "active", "pilot_spacing", "oac_symbols",
                "guard", "lookahead", "latency", "margin", "trigger_len", "seed")
        optional = ("g_u", "g_d", "idle", "start")
        for name in ints + optional:
            # an integral float (3300.0, numpy scalars, 0-d arrays: GRC's raw
            # fields) is that integer; the frozen fields are normalized here
            v = getattr(self, name)
            if isinstance(v, np.ndarray) and v.ndim == 0:
                v = v.item()
            if isinstance(v, (float, np.floating)) and math.isfinite(v) and v == int(v):
                v = int(v)
            elif isinstance(v, np.integer):
                v = int(v)
            object.__setattr__(self, name, v)
        for name in ints:
            need(is_integer(getattr(self, name)), name, "must be an integer")
        for name in optional:
            need(getattr(self, name) is None or is_integer(getattr(self, name)), name,
                 "must be an integer or None")
        for name in ("samp_rate", "center_freq", "theta_des", "feedback_amp", "min_snr_db",
                     "detect_threshold"):
            need(is_finite_real(getattr(self, name)), name, "must be a finite real number")
        need(1 <= self.num_nodes <= 63, "num_nodes", "must be an integer in 1..63")
        need(self.seed >= 0, "seed", "must be >= 0")
        need(self.samp_rate > 0 and math.isfinite(self.samp_rate), "samp_rate", "must be > 0")
        need(self.center_freq > 0 and math.isfinite(self.center_freq), "center_freq",
             "must be > 0")
        need(self.fft_len >= 32 and self.fft_len % 2 == 0, "fft_len",
             "must be even and >= 32 (the nodes' detectors do not tell shorter pilots apart)")
        need(1 <= self.cp_len <= self.fft_len, "cp_len",
             "must be in 1..fft_len (a node ranges only if its round trip is within half a CP)")
        need(4 <= self.active <= self.fft_len - 1, "active", "must be in 4..fft_len - 1")
        need(self.pilot_spacing >= 2, "pilot_spacing", "must be >= 2")
        need(self.num_nodes + 2 <= self._zc_len - 1, "num_nodes",
             f"needs num_nodes + 3 <= {self._zc_len} (distinct pilot roots; raise active)")
        need(self.oac_symbols >= 1, "oac_symbols", "must be >= 1")
        need(self.guard >= 1, "guard",
             "must be >= 1 (the two request pilots must be more than a symbol apart)")
        need(self.lookahead >= 1, "lookahead", "must be >= 1")
        need(self.latency >= 0, "latency", "must be >= 0")
        need(self.margin >= 0, "margin", "must be >= 0")
        need(64 <= self.trigger_len <= 4096 and self.trigger_len % 2 == 0, "trigger_len",
             "must be even and in 64..4096 (shorter triggers are found in noise, and a node "
             "would acquire a wrong CFO from one)")
        need(0 < self.feedback_amp <= 1, "feedback_amp", "must be in (0, 1]")
        need(math.isfinite(self.theta_des), "theta_des", "must be finite")
        need(0 < self.detect_threshold < 1, "detect_threshold", "must be in (0, 1)")
        for name in ("g_u", "g_d"):
            value = getattr(self, name)
            need(value is None or value >= self.min_turnaround, name,
                 f"must be >= lookahead + latency + 1 = {self.min_turnaround}")
        # The fusion decides margin after the last response slot and sends
        # feedback advanced by the round trip (up to half a CP): the
        # turnaround must cover lookahead + latency beyond that, or every
        # feedback burst is late.
        need_gd = (self.lookahead + self.latency + self.margin + (self.cp_len + 1) // 2 + 1)
        need(self.fusion_turnaround >= need_gd, "g_d",
             f"must be >= lookahead + latency + margin + cp_len / 2 + 1 = {need_gd} (the "
             f"feedback would be late)")
        need(self.idle is None or self.idle >= self.min_idle, "idle",
             f"must be >= {self.min_idle} (noise window and retune slack)")
        if self.node_turnaround < self.sym_len:
            # g_u, or the lookahead it is derived from when not given
            raise ValueError(
                f"{'g_u' if self.g_u is not None else 'lookahead'}: the node turnaround "
                f"{self.node_turnaround} must leave room for the request's two pilots before "
                f"the first response (>= fft_len + cp_len = {self.sym_len}), got "
                f"{self.g_u if self.g_u is not None else self.lookahead}")
        need(self.start is None or self.start >= self.min_start, "start",
             f"must be >= {self.min_start}")

    def replace(self, **changes):
        return dataclasses.replace(self, **changes)

    # ----- lengths -------------------------------------------------------------
    @property
    def sym_len(self):
        return self.fft_len + self.cp_len

    @property
    def packet(self):
        """Tp: one PCP packet (an OFDM symbol) plus the guard."""
        return self.sym_len + self.guard

    @property
    def min_turnaround(self):
        return self.lookahead + self.latency + 1

    @property
    def node_turnaround(self):
        return self.min_turnaround + self.margin if self.g_u is None else int(self.g_u)

    @property
    def fusion_turnaround(self):
        # the fusion decides once the last response slot (plus margin) is in,
        # and a feedback leaves up to half a CP early (the round trip)
        if self.g_d is not None:
            return int(self.g_d)
        return self.min_turnaround + self.margin + max(self.margin, (self.cp_len + 1) // 2)

    @property
    def noise_window(self):
        return 256

    @property
    def min_idle(self):
        return self.noise_window + self.trigger_len + 2 * self.margin

    @property
    def min_start(self):
        return self.lookahead + self.latency + self.trigger_len + 1

    # ----- schedule (offsets from T1, samples) ---------------------------------------
    def t2(self, k):
        return self.node_turnaround + k * self.packet

    def t3(self, k):
        K = self.num_nodes
        return self.node_turnaround + self.fusion_turnaround + (2 * K + 1 - k) * self.packet

    @property
    def t4(self):
        K = self.num_nodes
        return 2 * self.node_turnaround + self.fusion_turnaround + (2 * K + 1) * self.packet

    @property
    def round_length(self):
        """From the trigger's start to the end of the last payload symbol."""
        return self.trigger_len + self.t4 + self.oac_symbols * self.sym_len

    @property
    def idle_samples(self):
        # Nodes retune their derotators right after a round: t4 >= 3 D keeps
        # that beyond the 2 D the pipeline can run ahead (see pcp.node), so
        # the idle time only needs the fusion's noise window and slack.
        return self.min_idle if self.idle is None else int(self.idle)

    @property
    def period(self):
        return self.round_length + self.idle_samples

    @property
    def first_request(self):
        return self.min_start + self.margin if self.start is None else int(self.start)

    def request_time(self, r):
        """T1 of round r (on-air start of the request pilot)."""
        return self.first_request + r * self.period

    def samples_for(self, rounds):
        """Samples every receiver must stream for `rounds` complete rounds."""
        return self.request_time(rounds) + self.margin

    # ----- carriers --------------------------------------------------------------
    def carrier_map(self):
        return ofdm.carrier_map(self.fft_len, self.active, self.pilot_spacing)

    def active_index(self):
        """Centred FFT indices (0..fft_len-1) of the active subcarriers."""
        return np.flatnonzero(self.carrier_map() != ofdm.NULL)

    def data_index(self):
        return np.flatnonzero(self.carrier_map() == ofdm.DATA)

    def pilot_index(self):
        return np.flatnonzero(self.carrier_map() == ofdm.PILOT)

    @property
    def params_per_round(self):
        return self.oac_symbols * len(self.data_index())

    def _pilot_symbol(self, root):
        """A CP-OFDM symbol whose active subcarriers carry a Zadoff-Chu
        sequence of prime length (the largest prime <= active) with this root:
        symbols with distinct roots have a flat circular cross-correlation
        (1/length of the peak), so a node's detector does not mistake one PCP
        packet for another."""
        idx = self.active_index()
        idx = idx[np.argsort(np.abs(idx - self.fft_len // 2), kind="stable")][:self._zc_len]
        spec = np.zeros(self.fft_len, complex)
        spec[np.sort(idx)] = preambles.zadoff_chu(root, self._zc_len)
        return _symbol(spec, self.fft_len, self.cp_len)

    @property
    def _zc_len(self):
        n = self.active
        while n > 2 and any(n % d == 0 for d in range(2, int(math.isqrt(n)) + 1)):
            n -= 1
        return n

    def _root(self, which):
        """Distinct roots: request 1, response 2, feedback k -> 2 + k, all
        shifted by the seed (mod the ZC length, never 0)."""
        return 1 + (which - 1 + 3 * (self.seed - 1)) % (self._zc_len - 1)

    # ----- waveforms ---------------------------------------------------------------
    def trigger(self):
        return preambles.ofdm_preamble(self.trigger_len, seed=self.seed)

    def request(self):
        return self._pilot_symbol(self._root(1))

    def request_burst(self):
        """What the fusion sends in step 1, from T1 - trigger_len: the trigger,
        the request pilot, a guard, the request pilot again. The guard keeps
        the two pilots more than N apart, so the detector reports both (one
        window of its peak search spans N samples after a maximum)."""
        pilot = self.request()
        return np.concatenate([self.trigger(), pilot, np.zeros(self.guard, np.complex64),
                               pilot]).astype(np.complex64)

    def response(self):
        return self._pilot_symbol(self._root(2))

    def feedback(self, k):
        if not 1 <= k <= self.num_nodes:
            raise ValueError(f"slot: must be in 1..{self.num_nodes}, got {k}")
        return self._pilot_symbol(self._root(2 + k))

    def spectrum(self, waveform):
        """Centred unitary spectrum of a one-symbol waveform (CP removed)."""
        return unitary_fft(np.asarray(waveform)[self.cp_len:self.cp_len + self.fft_len])

    def payload_pilots(self):
        return ofdm.pilot_sequence(len(self.pilot_index()), seed=self.seed)

    def payload_grid(self, values):
        """Centred spectra (oac_symbols x fft_len) carrying the OAC values on
        the data subcarriers and the payload pilots."""
        values = np.asarray(values, dtype=complex).reshape(self.oac_symbols, -1)
        grid = np.zeros((self.oac_symbols, self.fft_len), complex)
        grid[:, self.data_index()] = values
        grid[:, self.pilot_index()] = self.payload_pilots()
        return grid

    def payload(self, values, delay=0.0):
        """Time-domain payload (oac_symbols CP-OFDM symbols), unit-DFT scaled
        (a value v on a subcarrier arrives as H v after the fusion's FFT),
        delayed by `delay` samples (fractional; see fractional_delay)."""
        grid = self.payload_grid(values)
        body = np.fft.ifft(np.fft.ifftshift(grid, axes=1), axis=1) * math.sqrt(self.fft_len)
        syms = np.concatenate([body[:, self.fft_len - self.cp_len:], body], axis=1)
        if delay:
            return fractional_delay(syms, delay, self.fft_len, self.cp_len)
        return syms.ravel().astype(np.complex64)
