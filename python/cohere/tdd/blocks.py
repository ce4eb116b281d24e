# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken-TDD streaming blocks: the AP control block and the central unit.

An AP is (tdd_ap, a hier block; N antennas):

    RX (N) -> tdd_ap_control -> delay D (N) -> [AP 2: phase_precoder_cc (N)] -> TX (N)

tdd_ap_control is a sync block whose output item n is the AP's TX sample for
TX index n + D, computed from RX samples up to n (the lookahead D of the
architecture; blocks.delay emits the D leading zeros). It

* estimates every user's channel from the uplink pilots (LS: q_hat = y / a),
  which absorbs the AP's LO phase at the pilot time;
* sends conjugate beamforming downlink, x = sum_k sqrt(1/K) conj(q_hat_k) /
  ||q_hat_k|| s_k, on the samples of the `paper` schedule (demodulation pilot
  s_k = 1, then QPSK data);
* in the first slot of each frame sends (AP 2 at i1: sqrt(rho) u_2; AP 1 at
  i2: sqrt(rho) conj(u_1)) and measures (AP 1 at i1: alpha21 =
  angle(u_2^H G^H y); AP 2 at i2: alpha12 = angle(u_1^T G^* y)) the one-sample
  sync, posting the one-way estimate on `alpha` for the central unit;
* AP 2 only: applies the tracked theta_2 = alphahat_n with its precoders,
  one `phase_cmd` stream tag {phase} per frame on TX index apply_index(n),
  the first TX sample after i2 of frame n (the estimate refers to i2). Before
  producing that TX sample it waits until the estimate of frame n has arrived
  on `est` (work() returns 0 and is called again once messages are handled).
  The command travels in band with the sample it applies to (a message could
  reach the precoder after the sample), so the result never depends on
  thread timing. The sync symbol it sends at i1 is
  derotated by the phase in force, so the air carries sqrt(rho) u_2.

The central unit (tdd_central_unit, message only) pairs the two one-way
estimates of each frame into alphabar_n = alpha12 - alpha21 (13) and posts it
on `meas` ({phase, time = sync12 index}) for kalman_phase_tracker (model
"paper"), whose `est` output goes back to AP 2.

Both APs know G (AP 2 -> AP 1, including the chain gains) up to a common phase
(it cancels in (13)); the runner reads it from the emulator's ground truth.
"""

import math
import time

import numpy as np
import pmt
from gnuradio import blocks, gr

from ..algorithms import tdd_sync
from ..cohere_python import phase_precoder_cc
from ..logs import block_loggers, guarded_work
from ..messages import pmt_dict
from .config import TddStreamConfig, dl_symbols

__all__ = ["tdd_ap_control", "tdd_ap", "tdd_central_unit"]


class tdd_ap_control(gr.sync_block):
    """In-stream control of one AP (see the module doc).

    Parameters
    ----------
    config : TddStreamConfig
    ap : 1 or 2
    G : the inter-AP channel AP 2 -> AP 1 as this AP knows it (N x N; any
        common phase)
    nsamples : RX samples the AP's source delivers (0: unlimited). AP 2 does
        not wait for estimates that would apply at a TX index >= nsamples
        (never on the air): at the end of a finite run the central unit may
        already have stopped, as GNU Radio ends message-only blocks once a
        neighbour is done.

    Message ports: out `alpha` ({frame, phase, time}: the one-way estimate),
    in `est` (AP 2: kalman_phase_tracker output). AP 2's output carries a
    `phase_cmd` tag {phase} (for phase_precoder_cc) where theta_2 changes.
    Attributes for analysis: `alphas` [(frame, phase)], `applied` [(frame,
    apply index, theta, P, gain)], `stall_calls`; `error`: why the block
    stopped, if an exception ended its stream (logged; None otherwise).
    """

    def __init__(self, config, ap, G, nsamples=0):
        if not isinstance(config, TddStreamConfig):
            raise ValueError(f"config: expected a TddStreamConfig, got {type(config).__name__}")
        if ap not in (1, 2):
            raise ValueError(f"ap: must be 1 or 2, got {ap!r}")
        c = self.cfg = config
        G = np.atleast_2d(np.asarray(G, dtype=np.complex128))
        if G.shape != (c.N, c.N) or not np.all(np.isfinite(G)):
            raise ValueError(f"G: expected a finite {c.N}x{c.N} matrix, got shape {G.shape}")
        gr.sync_block.__init__(self, name=f"tdd_ap{ap}_control",
                               in_sig=[np.complex64] * c.N, out_sig=[np.complex64] * c.N)
        if int(nsamples) < 0:
            raise ValueError(f"nsamples: must be >= 0, got {nsamples!r}")
        self.nsamples = int(nsamples)
        self.ap = ap
        self._log, self._debug = block_loggers(f"tdd_ap{ap}_control")
        x1, u2 = tdd_sync.sync_vectors(G)
        amp = math.sqrt(c.rho)
        # what this AP sends on its sync sample, and its combiner on the other's
        self._sync_tx = (amp * (u2 if ap == 2 else x1)).astype(np.complex64)
        self._combiner = ((G @ u2).conj() if ap == 1 else (G.T @ x1).conj())
        conv, brk = c.schedules()
        self._kinds = {}
        for first, sched in ((False, conv), (True, brk)):
            active = sched.a1 if ap == 1 else sched.a2
            kind = np.where(active, 1, 0).astype(np.int8)        # 1: data
            for (p, s1, s2) in sched.pilots:
                if (s1 if ap == 1 else s2):
                    kind[p - 1] = 2                                 # 2: demodulation pilot
            if first:
                for p in (sched.sync21 if ap == 2 else sched.sync12):
                    kind[p - 1] = 3                                 # 3: sync (sent)
            self._kinds[first] = kind
        self._rx_sync_p = c.i1 if ap == 1 else c.i2              # sync received (first slot)
        self._scale = 1.0 / math.sqrt(c.K)
        self._q = {}                     # slot -> (N, K) channel estimates
        self._sym = {}                   # slot -> (K, tau_c) symbols
        self._est = {}                   # frame -> (theta, P, gain)
        self._next_apply = 0             # next frame whose estimate AP 2 must apply
        self._theta = 0.0                # precoder phase in force (AP 2)
        self._theta_from = []            # [(apply index, theta)]
        self.alphas = []
        self.applied = []
        self.stall_calls = 0
        self.malformed = 0
        self.error = None                # why the block stopped (an exception in work)
        self._alpha_port = pmt.intern("alpha")
        self._phase_cmd = pmt.intern("phase_cmd")
        self._tag_src = pmt.intern(f"tdd_ap{ap}")
        self.message_port_register_out(self._alpha_port)
        if ap == 2:
            self.message_port_register_in(pmt.intern("est"))
            self.set_msg_handler(pmt.intern("est"), self._on_est)

    # ----- messages ----------------------------------------------------------------
    def _on_est(self, msg):
        c = self.cfg
        try:
            phase = pmt.to_double(pmt.dict_ref(msg, pmt.intern("phase"), pmt.PMT_NIL))
            t = pmt.to_python(pmt.dict_ref(msg, pmt.intern("time"), pmt.PMT_NIL))
            P = pmt.to_double(pmt.dict_ref(msg, pmt.intern("P"), pmt.from_double(math.nan)))
            gain = pmt.to_double(pmt.dict_ref(msg, pmt.intern("gain"),
                                              pmt.from_double(math.nan)))
            n = c.frame_of_time(t)
        except Exception:  # noqa: BLE001 (a message handler must not throw)
            n, phase = None, math.nan
        if n is None or not math.isfinite(phase):
            self.malformed += 1
            if self.malformed & (self.malformed - 1) == 0:
                self._log.warn(f"malformed est message dropped ({self.malformed} so far): "
                               f"{pmt.write_string(msg)[:120]}")
            return
        self._est[n] = (phase, P, gain)

    # ----- per-slot data ----------------------------------------------------------------
    def _symbols(self, slot):
        if slot not in self._sym:
            self._sym = {s: v for s, v in self._sym.items() if s >= slot - 1}
            self._sym[slot] = dl_symbols(self.cfg.seed, slot, self.cfg.K, self.cfg.tau_c)
        return self._sym[slot]

    def _ingest(self, rx, r0, n):
        """Read the pilots and the sync of RX indices r0 .. r0 + n - 1."""
        c = self.cfg
        tc = c.tau_c
        for slot in range(r0 // tc, (r0 + n - 1) // tc + 1):
            base = slot * tc
            ks = np.arange(c.K)
            idx = base + ks - r0                                   # pilot p = k + 1
            ok = (idx >= 0) & (idx < n)
            if np.any(ok):
                q = self._q.setdefault(slot, np.zeros((c.N, c.K), np.complex128))
                q[:, ks[ok]] = rx[:, idx[ok]] / c.ul_amp
            if slot % c.F == 0:
                i = base + self._rx_sync_p - 1 - r0
                if 0 <= i < n:
                    frame = slot // c.F
                    phase = float(np.angle(self._combiner @ rx[:, i]))
                    self.alphas.append((frame, phase))
                    self.message_port_pub(self._alpha_port, pmt_dict(
                        frame=pmt.from_long(frame), phase=pmt.from_double(phase),
                        time=pmt.from_uint64(base + self._rx_sync_p - 1)))

    def _transmit(self, out, t0, n):
        """TX samples t0 .. t0 + n - 1 into out (N, n)."""
        c = self.cfg
        tc = c.tau_c
        out[:] = 0
        for slot in range(t0 // tc, (t0 + n - 1) // tc + 1):
            base = slot * tc
            lo, hi = max(t0, base), min(t0 + n, base + tc)
            kind = self._kinds[slot % c.F == 0][lo - base:hi - base]
            dl = np.flatnonzero(kind == 1) + (lo - base)
            pil = np.flatnonzero(kind == 2) + (lo - base)
            syn = np.flatnonzero(kind == 3) + (lo - base)
            if len(dl) or len(pil):
                q = self._q.get(slot)
                if q is None:
                    raise RuntimeError(f"AP {self.ap}: downlink of slot {slot} before its "
                                       "pilots (lookahead too large)")
                norms = np.linalg.norm(q, axis=0)
                W = np.conj(q) / np.where(norms > 0, norms, 1.0) * self._scale   # (N, K)
                if len(dl):
                    out[:, dl + base - t0] = W @ self._symbols(slot)[:, dl]
                if len(pil):
                    out[:, pil + base - t0] = W.sum(axis=1)[:, None]
            for p0 in syn:
                t = base + p0
                # AP 2's precoder multiplies by exp(j theta in force): undo it
                rot = np.exp(-1j * self._theta_at(t)) if self.ap == 2 else 1.0
                out[:, t - t0] = self._sync_tx * rot

    def _theta_at(self, t):
        theta = 0.0
        for start, value in self._theta_from:
            if start <= t:
                theta = value
        return theta

    # ----- stream ----------------------------------------------------------------------
    def work(self, input_items, output_items):
        return guarded_work(self, f"AP {self.ap}", self._work, input_items, output_items)

    def _work(self, input_items, output_items):
        c = self.cfg
        D = c.lookahead
        n = len(output_items[0])
        r0 = self.nitems_read(0)
        commands = []                                               # (output index, theta)
        if self.ap == 2:
            # produce TX index apply_index(m) only with the estimate of frame m
            while True:
                m = self._next_apply
                gate = c.apply_index(m) - D                         # output item index
                if gate >= r0 + n or (self.nsamples and c.apply_index(m) >= self.nsamples):
                    break
                if m not in self._est:
                    n = gate - r0
                    break
                theta, P, gain = self._est.pop(m)
                t = c.apply_index(m)
                commands.append((gate, theta))
                self._theta_from = self._theta_from[-3:] + [(t, theta)]
                self._theta = theta
                self.applied.append((m, t, theta, P, gain))
                self._next_apply = m + 1
            if n <= 0:
                self.stall_calls += 1
                time.sleep(0.0002)
                return 0
        rx = np.array([np.asarray(x[:n]) for x in input_items])
        self._ingest(rx, r0, n)
        out = np.zeros((c.N, n), np.complex64)
        self._transmit(out, r0 + D, n)
        # channel estimates still needed: the slot of the next TX sample (and
        # the one before, for its first samples): whatever the call's length
        keep = (r0 + n + D) // c.tau_c - 1
        self._q = {s: v for s, v in self._q.items() if s >= keep}
        for a in range(c.N):
            output_items[a][:n] = out[a]
        for gate, theta in commands:  # lands on TX index gate + D after the delay
            value = pmt_dict(phase=pmt.from_double(theta))
            for a in range(c.N):
                self.add_item_tag(a, gate, self._phase_cmd, value, self._tag_src)
        return n


class tdd_ap(gr.hier_block2):
    """One AP: N RX streams in, N TX streams out (see the module doc);
    parameters as tdd_ap_control.

    AP 2 has a phase_precoder_cc per antenna, commanded in band by its
    control block's `phase_cmd` tags;
    connect `est` (kalman_phase_tracker output) to it. Both APs publish
    `alpha` (their one-way estimates)."""

    def __init__(self, config, ap, G, nsamples=0):
        c = config
        sig = gr.io_signature(c.N, c.N, gr.sizeof_gr_complex)
        gr.hier_block2.__init__(self, f"tdd_ap{ap}", sig, sig)
        self.control = tdd_ap_control(c, ap, G, nsamples)
        self.delays = [blocks.delay(gr.sizeof_gr_complex, c.lookahead) for _ in range(c.N)]
        self.precoders = [phase_precoder_cc(0.0) for _ in range(c.N)] if ap == 2 else []
        for a in range(c.N):
            chain = [(self.control, a), self.delays[a]]
            if self.precoders:
                chain.append(self.precoders[a])
            self.connect((self, a), (self.control, a))
            self.connect(*chain, (self, a))
        self.message_port_register_hier_out("alpha")
        self.msg_connect(self.control, "alpha", self, "alpha")
        if ap == 2:
            self.message_port_register_hier_in("est")
            self.msg_connect(self, "est", self.control, "est")


class tdd_central_unit(gr.basic_block):
    """Combines the one-way estimates of each frame (13) (message only).

    In: `alpha21` (from AP 1), `alpha12` (from AP 2), dicts {frame, phase,
    time}. Out: `meas` {phase = alpha12 - alpha21, time = sync12 index of the
    frame}, in frame order. An unreadable message stands for the frame
    expected next from its AP, and a frame skipped by an AP's next message
    was lost: both go out with phase NaN (the tracker predicts), at once, so
    the APs, which wait for each frame's estimate, never wait for a message
    that will not come. A frame delivered twice is dropped. `records`
    [(frame, alpha21, alpha12, alphabar)]."""

    MAX_GAP = 64  # frames an AP's message may skip (lost ones); beyond: a bad frame number

    def __init__(self, config):
        gr.basic_block.__init__(self, name="tdd_central_unit", in_sig=None, out_sig=None)
        if not isinstance(config, TddStreamConfig):
            raise ValueError(f"config: expected a TddStreamConfig, got {type(config).__name__}")
        self.cfg = config
        self._log, _ = block_loggers("tdd_central_unit")
        self._have = {"alpha21": {}, "alpha12": {}}
        self._next = 0
        self.records = []
        self.malformed = 0
        self._port_next = {name: 0 for name in ("alpha21", "alpha12")}  # frame expected next
        self._meas = pmt.intern("meas")
        self.message_port_register_out(self._meas)
        for name in self._have:
            self.message_port_register_in(pmt.intern(name))
        # handlers must be bound methods of the block (the gateway looks them up by name)
        self.set_msg_handler(pmt.intern("alpha21"), self._on_alpha21)
        self.set_msg_handler(pmt.intern("alpha12"), self._on_alpha12)

    def _on_alpha21(self, msg):
        self._on("alpha21", msg)

    def _on_alpha12(self, msg):
        self._on("alpha12", msg)

    def _on(self, name, msg):
        try:
            frame = int(pmt.to_python(pmt.dict_ref(msg, pmt.intern("frame"), pmt.PMT_NIL)))
        except Exception:  # noqa: BLE001 (a message handler must not throw)
            frame = None
        try:
            phase = float(pmt.to_double(pmt.dict_ref(msg, pmt.intern("phase"), pmt.PMT_NIL)))
        except Exception:  # noqa: BLE001
            phase = None
        expected = self._port_next[name]
        if frame is not None and not expected <= frame <= expected + self.MAX_GAP:
            # a frame this port already delivered (or stood in for), or one
            # no AP could send next: dropped, the expected frame still comes
            self.malformed += 1
            if self.malformed & (self.malformed - 1) == 0:
                self._log.warn(f"{name} for frame {frame} (expected {expected}): dropped "
                               f"({self.malformed} so far)")
            return
        if frame is None or phase is None:
            # Each AP sends every frame once, in order: a message whose phase
            # cannot be read is its frame (or, without a readable frame
            # number, the frame expected next from that port) with phase NaN,
            # at once (the tracker predicts): the APs wait for every frame's
            # estimate, so waiting for a later message would deadlock.
            self.malformed += 1
            frame = expected if frame is None else frame
            if self.malformed & (self.malformed - 1) == 0:
                self._log.warn(f"malformed {name} message dropped, frame {frame} goes without "
                               f"a measurement ({self.malformed} so far)")
            phase = math.nan
        for missing in range(expected, frame):  # lost on the way: no measurement either
            self._have[name][missing] = math.nan
        self._port_next[name] = frame + 1
        self._have[name][frame] = phase
        a21, a12 = self._have["alpha21"], self._have["alpha12"]
        while self._next in a21 and self._next in a12:
            n = self._next
            x21, x12 = a21.pop(n), a12.pop(n)
            alphabar = x12 - x21  # NaN for a frame without a measurement
            self.records.append((n, x21, x12, alphabar))
            self.message_port_pub(self._meas, pmt_dict(
                phase=pmt.from_double(alphabar),
                time=pmt.from_uint64(self.cfg.sync12_index(n))))
            self._next += 1
