# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""A PCP node: CFO pre-compensation, C++ echoes for steps 2 and 4, Python control.

Signal path (pcp_node, a hier block: RX stream in, TX stream out):

    RX -> cfo_derotator_cc -> preamble_detector_cc -> pcp_node_control
       -> burst_scheduler_cc -> cfo_derotator_cc (TX pre-rotation) -> TX

The detector searches the trigger (id 0), the request pilot (id 1) and this
node's feedback pilot (id 2). pcp_node_control passes the stream through
unchanged and reads the `sync_peak` tags in stream order. It arms and clears
the scheduler's echoes with `echo` tags on the sample of the tag it is
handling (the scheduler applies them before that sample's `sync_peak`), in
band, so they can never arrive late; its derotator retunes are messages for
times after the round, far ahead of both derotators. A run is
deterministic. The time-critical work
is C++: the burst scheduler echoes the response at round(index) + g_u + k Tp
rotated by the request's phase (step 2), and the payload at the armed
absolute time rotated by the feedback's phase and scaled by its amplitude
(step 4, power control).

Per round the control block
1. on the trigger: coarse CFO (first round only: acquisition, no response);
2. on the request pilot (a trigger right before it): arms the step-2 echo
   (once) and the step-4 echo (once, absolute time, this round's payload);
   on the request's second pilot (one packet later): updates the fine CFO
   (the two pilots anchor it, the progression from the previous request
   refines it) and schedules the RX/TX retune for right after the round
   (the frequency stays constant through steps 1-4);
3. on its feedback pilot: learns the round-trip delay from the timing
   feedback (timing advance for the next payloads). With timing advance on,
   the node's first answered round is a ranging round: it answers and
   learns the round trip but sends no payload (the fusion node leaves a
   node's first answered round out of the sums, by the same rule).
A node that missed the request, was not acquired yet, or skips the round,
clears its step-4 echo, so it never transmits a payload with a stale phase.
"""

import math

import numpy as np
import pmt
from gnuradio import gr

from ..cohere_python import burst_scheduler_cc, cfo_derotator_cc, preamble_detector_cc
from ..logs import block_loggers, guarded_work
from ..messages import pmt_dict
from .config import PcpConfig

__all__ = ["pcp_node", "pcp_node_control", "TRIGGER", "REQUEST", "FEEDBACK"]

TRIGGER, REQUEST, FEEDBACK = 0, 1, 2
VALUE_KINDS = ("bpsk", "uniform", "gaussian")
MODES = ("pcp", "none")


# longest run of rounds the slip test of _fine_cfo averages (an anchor 8 times
# noisier than half the ambiguity cannot be used at all)
MAX_SLIP_WINDOW = 64


def _round_half_up(x):
    """llround for the non-negative indices the burst scheduler rounds."""
    return int(math.floor(x + 0.5))


def _tag_fields(value):
    """A sync_peak dict as a Python dict of floats, or None if malformed."""
    if not pmt.is_dict(value):
        return None
    out = {}
    for key in ("index", "phase", "amp", "cfo", "preamble", "snr_db"):
        v = pmt.dict_ref(value, pmt.intern(key), pmt.PMT_NIL)
        if pmt.is_null(v):
            continue
        try:
            out[key] = float(pmt.to_python(v))
        except (TypeError, ValueError):
            return None
    if not all(math.isfinite(out.get(k, math.nan)) for k in ("index", "phase", "amp")):
        return None
    if "preamble" not in out:
        return None
    return out


class pcp_node_control(gr.sync_block):
    """Control logic of a PCP node (in-stream, passes samples through).

    Parameters
    ----------
    config : PcpConfig shared with the fusion node
    slot : k in 1..K (response order; feedback comes in reverse order)
    mode : "pcp" (precode the payload with the feedback's phase) or "none"
        (send the payload with phase 0: the unsynchronized baseline; timing
        and power control stay the same)
    values : "bpsk", "uniform" ([-1, 1]) or "gaussian" parameters, or a
        callable(round_record) -> params_per_round real or complex values
    seed : seed of the values and of the injected residual CFO
    residual_cfo_std : Hz; when > 0 every round's pre-compensation is off by a
        fresh N(0, residual_cfo_std^2) draw (to study the residual CFO, eq. (8))
    drop_requests : indices (0-based, counted over valid requests seen) of
        requests to ignore as if they were lost
    timing_advance : learn the round trip from the fusion's timing feedback
        and send the payload that much earlier
    cfo_smoothing : weight of a new fine CFO measurement (0 < a <= 1); the
        first measurements are averaged uniformly until 1/n < a

    Message outputs: `rx_cmd` and `tx_cmd` (to the RX and TX
    cfo_derotator_cc), `events` (a dict per round). Stream tags out: `echo`
    (echo table edits for burst_scheduler_cc) and the forwarded `sync_peak`s.
    """

    def __init__(self, config, slot, mode="pcp", values="bpsk", seed=0,
                 residual_cfo_std=0.0, drop_requests=(), timing_advance=True,
                 cfo_smoothing=0.25):
        gr.sync_block.__init__(self, name="pcp_node_control",
                               in_sig=[np.complex64], out_sig=[np.complex64])
        if not isinstance(config, PcpConfig):
            raise ValueError(f"config: expected a PcpConfig, got {type(config).__name__}")
        if not 1 <= int(slot) <= config.num_nodes:
            raise ValueError(f"slot: must be in 1..{config.num_nodes}, got {slot!r}")
        if mode not in MODES:
            raise ValueError(f"mode: must be one of {MODES}, got {mode!r}")
        if not callable(values) and values not in VALUE_KINDS:
            raise ValueError(f"values: must be one of {VALUE_KINDS} or a callable, got {values!r}")
        if not (residual_cfo_std >= 0 and math.isfinite(residual_cfo_std)):
            raise ValueError(f"residual_cfo_std: must be finite and >= 0, got {residual_cfo_std!r}")
        if not 0 < cfo_smoothing <= 1:
            raise ValueError(f"cfo_smoothing: must be in (0, 1], got {cfo_smoothing!r}")
        self.cfg = config
        self.slot = int(slot)
        self.mode = mode
        self.values = values
        self.residual_cfo_std = float(residual_cfo_std)
        self.drop_requests = frozenset(int(i) for i in drop_requests)
        self.timing_advance = bool(timing_advance)
        self.cfo_smoothing = float(cfo_smoothing)
        self._rng = np.random.default_rng([int(seed), self.slot])
        self._log, self._debug = block_loggers(f"pcp_node_control[{self.slot}]")
        self._echo_key = pmt.intern("echo")
        self._tag_src = pmt.intern(f"pcp_node_control[{self.slot}]")
        self._tag_offset = 0  # the sample of the sync_peak tag being handled
        self._rx_port = pmt.intern("rx_cmd")
        self._tx_port = pmt.intern("tx_cmd")
        self._events_port = pmt.intern("events")
        for port in (self._rx_port, self._tx_port, self._events_port):
            self.message_port_register_out(port)
        self._response = pmt.init_c32vector(len(config.response()), config.response().tolist())
        self._sync_key = pmt.intern("sync_peak")
        # sync_peak tags reach the burst scheduler only when this block
        # accepts them (a request pilot right after a trigger, a feedback in
        # this node's slot): detections at other times never fire an echo
        self.set_tag_propagation_policy(gr.TPP_DONT)

        # oscillator tracking (Hz): estimate of the DL CFO and the retunes
        # applied to the RX derotator so far [(rx index, frequency)]
        self.cfo_estimate = None
        self._cfo_count = 0
        self._retunes = [(0, 0.0)]  # those still needed by _theta (trimmed)
        self.retune_log = []  # every retune posted: (RX index, Hz)
        self._acquired_from = None  # first RX index after the acquisition retune
        self._last_pilot = None  # (index, phase) of the last request pilot
        self._deviations = []  # anchor - tracked CFO of the rounds since the last start (Hz)
        self._pilot_len = len(config.request())
        self._trigger = None  # last trigger detection (fields)
        self.round_trip = 0.0  # learned 2 d (samples)
        self._rtt_count = 0
        self._requests_seen = 0
        self._current = None  # record of the round in progress (until its feedback)
        self._current_request = None  # record waiting for its second pilot
        self.rounds = []  # one record per valid request (see _on_request)
        self.malformed = 0
        self.error = None  # why the block stopped (an exception in its logic)

    # ----- helpers -----------------------------------------------------------------
    def _post(self, port, **fields):
        self.message_port_pub(port, pmt_dict(**fields))

    def _echo(self, **fields):
        """Edit the scheduler's echo table from the sample being handled on."""
        self.add_item_tag(0, self._tag_offset, self._echo_key, pmt_dict(**fields), self._tag_src)

    def _theta(self, t):
        """RX derotator phase at t (rad, up to a constant), from its retunes."""
        theta = 0.0
        for i, (start, freq) in enumerate(self._retunes):
            end = self._retunes[i + 1][0] if i + 1 < len(self._retunes) else None
            if t <= start:
                break
            stop = t if end is None or t < end else end
            theta += 2 * math.pi * freq * (stop - start) / self.cfg.samp_rate
        return theta

    def _forget_retunes_before(self, t):
        """Keep only the retunes that matter from t on (the one in force at t
        and later ones): _theta differences between times >= t are unchanged,
        and the list stays short however long the run."""
        keep = 0
        while keep + 1 < len(self._retunes) and self._retunes[keep + 1][0] <= t:
            keep += 1
        if keep:
            del self._retunes[:keep]

    def _retune(self, at, freq):
        """RX derotator to freq from RX index `at`; TX pre-rotation to -freq
        from the TX index that is on the air then."""
        self._post(self._rx_port, cfo=pmt.from_double(freq), time=pmt.from_uint64(at))
        self._post(self._tx_port, cfo=pmt.from_double(-freq),
                   time=pmt.from_uint64(at - self.cfg.latency))
        self._retunes.append((at, freq))
        self.retune_log.append((at, freq))

    def _retune_time(self, pilot_index):
        """Right after the round whose request pilot starts at pilot_index."""
        c = self.cfg
        return _round_half_up(pilot_index) + c.t4 + c.oac_symbols * c.sym_len + c.margin

    def _draw_values(self, record):
        n = self.cfg.params_per_round
        if callable(self.values):
            vals = np.asarray(self.values(record), dtype=complex).ravel()
            if len(vals) != n:
                raise ValueError(f"values callable: expected {n} values, got {len(vals)}")
            if not np.all(np.isfinite(vals)):
                # the scheduler would drop the payload while the round
                # recorded it as sent
                raise ValueError(f"values callable: expected finite values, got "
                                 f"{int(np.sum(~np.isfinite(vals)))} NaN/Inf of {n}")
            return vals
        if self.values == "bpsk":
            return self._rng.choice([-1.0, 1.0], n).astype(complex)
        if self.values == "uniform":
            return self._rng.uniform(-1.0, 1.0, n).astype(complex)
        return self._rng.standard_normal(n).astype(complex)

    # ----- tag handlers ------------------------------------------------------------------
    def _on_trigger(self, f):
        self._trigger = f
        if self.cfo_estimate is None and "cfo" in f:
            # acquisition: coarse CFO from the trigger's two halves
            at = self._retune_time(f["index"] + self.cfg.trigger_len)  # its pilot's round
            self.cfo_estimate = self._retunes[-1][1] + f["cfo"]
            self._retune(at, self.cfo_estimate)
            self._acquired_from = at
            self._debug.debug(f"acquired: CFO {self.cfo_estimate:.1f} Hz from RX {at}")

    def _fine_cfo(self, index, phase, intra, intra_std=None):
        """Update the CFO estimate from a request's two pilots.

        intra: the residual CFO across the request's own two pilots (one
        packet apart: unambiguous over +-fs / (2 Tp), about 4 Hz rms
        at 30 dB); it anchors the estimate and resolves the 2 pi ambiguity of
        the phase progression from the previous request (one period apart:
        about 0.3 Hz rms at 30 dB, ambiguous over fs / period).

        intra_std: the anchor's standard deviation (Hz), from the pilots'
        SNR. Once tracking, the estimate starts over from the anchor only
        when the mean of the anchor's deviations from the tracked CFO over
        the last W rounds exceeds half the progression's ambiguity, W =
        ceil((4 intra_std / half)^2): a slip by one wrap (fs / period) is
        then found within W rounds, and the anchor's own noise restarts a
        good estimate with probability below 1e-4 per round. A single
        reading against half the ambiguity (W = 1 always) restarted a
        converged estimate by chance once the ambiguity came within 2
        anchor standard deviations (long payloads: 7.5 Hz against 4.2 Hz
        rms at 30 dB), and the restart's noisy anchor then chose wrong
        wraps: residual CFOs of 9-15 Hz, 64 deg of phase error.
        """
        fs = self.cfg.samp_rate
        applied = self._retunes[-1][1]
        anchor = applied + intra
        prev = self._last_pilot
        self._last_pilot = (index, phase)
        self._forget_retunes_before(prev[0] if prev is not None else index)
        self._cfo_count += 1
        if prev is None or self._cfo_count == 1:
            self.cfo_estimate = anchor
            self._deviations = []
            return anchor
        dt = index - prev[0]
        # raw phase progression = measured (derotated) + derotator phase
        progression = (phase - prev[1]) + (self._theta(index) - self._theta(prev[0]))
        expected = 2 * math.pi * self.cfo_estimate * dt / fs
        wraps = round((expected - progression) / (2 * math.pi))
        measured = (progression + 2 * math.pi * wraps) * fs / (2 * math.pi * dt)
        half = fs / (2 * dt)
        window = 1
        if intra_std is not None and math.isfinite(intra_std):
            window = min(MAX_SLIP_WINDOW, max(1, math.ceil((4.0 * intra_std / half) ** 2)))
        self._deviations = (self._deviations + [anchor - measured])[-window:]
        if len(self._deviations) == window and abs(sum(self._deviations) / window) > half:
            # the progression disagrees with the request's own pilots by more
            # than its ambiguity: start over from the anchor
            self._debug.debug(f"CFO progression {measured:.1f} Hz vs pilots {anchor:.1f} Hz "
                              f"({window} rounds): restarting from the pilots")
            self._cfo_count = 1
            self._deviations = []
            self.cfo_estimate = anchor
            return anchor
        weight = max(1.0 / (self._cfo_count - 1), self.cfo_smoothing)
        self.cfo_estimate += weight * (measured - self.cfo_estimate)
        return measured

    def _on_second_pilot(self, f):
        rec = self._current_request
        self._current_request = None
        c = self.cfg
        if rec is None or abs(f["index"] - rec["index"] - c.packet) > 1.0:
            return
        # both pilots measured with the same derotator frequency: what is left
        # between them is the residual CFO over one symbol
        dphi = math.remainder(f["phase"] - rec["phase"], 2 * math.pi)
        span = f["index"] - rec["index"]
        intra = dphi * c.samp_rate / (2 * math.pi * span)
        # each pilot's phase has the variance 1 / (2 N SNR) (N its length,
        # SNR per sample, the detector's estimate); their difference, the sum
        intra_std = None
        if rec.get("snr_db") is not None and "snr_db" in f:
            var = sum(1.0 / (2 * self._pilot_len * 10.0 ** (x / 10.0))
                      for x in (rec["snr_db"], f["snr_db"]))
            intra_std = math.sqrt(var) * c.samp_rate / (2 * math.pi * span)
        measured = self._fine_cfo(rec["index"], rec["phase"], intra, intra_std)
        # pre-compensation for the next round (right after this one)
        residual = self._rng.normal(0.0, self.residual_cfo_std) if self.residual_cfo_std else 0.0
        self._retune(self._retune_time(rec["index"]), self.cfo_estimate + residual)
        rec.update(cfo_measured=measured, cfo_intra=intra, cfo_estimate=self.cfo_estimate,
                   applied_offset=residual)

    def _on_request(self, f):
        c = self.cfg
        trig = self._trigger
        if trig is None or abs(f["index"] - c.trigger_len - trig["index"]) > 2.0:
            # (a stray match, e.g. inside the trigger itself with short
            # pilots, leaves the trigger for the real request)
            self._debug.debug(f"request pilot at {f['index']:.2f} without its trigger: ignored")
            return False
        self._trigger = None
        if self._acquired_from is None or f["index"] < self._acquired_from:
            return False  # acquisition round: no response
        count = self._requests_seen
        self._requests_seen += 1
        # the CFO is updated (and the next round's pre-compensation scheduled)
        # at the second pilot; until then the frequency in force stays
        record = {"slot": self.slot, "request": count, "index": f["index"],
                  "anchor": _round_half_up(f["index"]), "amp": f["amp"],
                  "phase": f["phase"], "snr_db": f.get("snr_db"), "cfo_measured": None,
                  "cfo_estimate": self.cfo_estimate, "applied_offset": 0.0,
                  "applied": self._retunes[-1][1],
                  "participating": count not in self.drop_requests}
        self._current_request = record
        if not record["participating"]:
            self._echo(preamble=pmt.from_long(FEEDBACK), clear=pmt.PMT_T)
            self.rounds.append(record)
            self._current = None
            return False
        # step 2: the response, echoed once from this very tag
        self._echo(preamble=pmt.from_long(REQUEST), waveform=self._response,
                   offset=pmt.from_long(c.t2(self.slot)), mode=pmt.intern("plus"),
                   once=pmt.PMT_T)
        self.rounds.append(record)
        self._current = record
        if self.timing_advance and self._rtt_count == 0:
            # ranging round: answer and learn the round trip from the
            # feedback, but send no payload until it is known (the fusion
            # leaves a node's first answered round out of the sums)
            record["ranging"] = True
            self._echo(preamble=pmt.from_long(FEEDBACK), clear=pmt.PMT_T)
            return True
        values = self._draw_values(record)
        advance = self.round_trip if self.timing_advance else 0.0
        emit = f["index"] + c.t4 - advance
        # whole samples by the burst's start, the rest (|delay| <= 1/2) as a
        # cyclic delay of each symbol, which the CP makes a true delay
        start = _round_half_up(emit)
        payload = c.payload(values, delay=emit - start)
        scale = 1.0 / (c.feedback_amp * f["amp"])
        record.update(values=values, emit=emit, advance=advance, payload_time=start)
        # step 4: the payload at an absolute time, on this node's feedback
        fields = dict(preamble=pmt.from_long(FEEDBACK),
                      waveform=pmt.init_c32vector(len(payload), payload.tolist()),
                      time=pmt.from_uint64(start), amp_scale=pmt.from_double(scale),
                      gain=pmt.from_complex(1.0), once=pmt.PMT_T)
        if self.mode == "pcp":
            fields.update(mode=pmt.intern("plus"))
        else:
            fields.update(mode=pmt.intern("fixed"), phase=pmt.from_double(0.0))
        self._echo(**fields)
        return True

    def _on_feedback(self, f):
        rec = self._current
        if rec is None:
            return False
        c = self.cfg
        expected = rec["index"] + c.t3(self.slot)
        shift = f["index"] - expected
        if abs(shift) > c.cp_len / 2:
            self._debug.debug(f"feedback at {f['index']:.2f}, {shift:+.1f} from its slot: ignored")
            return False
        # the fusion advanced its feedback by the response's delay tau2; with
        # the echo anchored at round(index), 2 d = index - anchor - shift
        rtt = rec["index"] - rec["anchor"] - shift
        self._rtt_count += 1
        weight = max(1.0 / self._rtt_count, 0.25)
        self.round_trip += weight * (rtt - self.round_trip)
        rec.update(feedback_index=f["index"], feedback_amp=f["amp"],
                   feedback_phase=f["phase"], round_trip=rtt,
                   # the armed payload fires on this (forwarded) feedback tag
                   payload_sent="values" in rec)
        self._current = None
        self._publish(rec)
        return True

    def _publish(self, rec):
        fields = {key: pmt.from_long(int(rec[key])) for key in ("slot", "request", "anchor")}
        fields.update((key, pmt.from_double(float(rec[key])))
                      for key in ("index", "amp", "phase", "cfo_estimate", "feedback_phase",
                                  "feedback_amp", "round_trip") if key in rec)
        self._post(self._events_port, **fields)

    # ----- stream ------------------------------------------------------------------------
    def work(self, input_items, output_items):
        # an exception ends the stream, with the reason in self.error
        # (run_network raises it), instead of a thread that dies silently
        return guarded_work(self, f"node {self.slot}", self._work, input_items, output_items)

    def _work(self, input_items, output_items):
        n = len(output_items[0])
        output_items[0][:] = input_items[0][:n]
        tags = sorted(self.get_tags_in_window(0, 0, n), key=lambda t: t.offset)
        for tag in tags:
            if not pmt.eq(tag.key, self._sync_key):
                self.add_item_tag(0, tag.offset, tag.key, tag.value, tag.srcid)
                continue
            f = _tag_fields(tag.value)
            if f is None:
                self.malformed += 1
                if self.malformed & (self.malformed - 1) == 0:  # 1st, 2nd, 4th, ...
                    self._log.warn(f"malformed sync_peak tag at {tag.offset} dropped "
                                   f"({self.malformed} so far)")
                continue
            which = int(f["preamble"])
            self._tag_offset = tag.offset
            forward = False
            if which == TRIGGER:
                self._on_trigger(f)
            elif which == REQUEST:
                if self._current_request is not None and \
                        abs(f["index"] - self._current_request["index"] - self.cfg.packet) <= 1.0:
                    self._on_second_pilot(f)
                else:
                    forward = self._on_request(f)
            elif which == FEEDBACK:
                forward = self._on_feedback(f)
            if forward:
                self.add_item_tag(0, tag.offset, tag.key, tag.value, tag.srcid)
        return n


class pcp_node(gr.hier_block2):
    """A complete PCP node: RX samples in, TX samples out (see module doc).

    Parameters: config, slot, and the pcp_node_control options (mode, values,
    seed, residual_cfo_std, drop_requests, timing_advance); threshold is the
    detector's (None: config.detect_threshold).
    """

    def __init__(self, config, slot, mode="pcp", values="bpsk", seed=0,
                 residual_cfo_std=0.0, drop_requests=(), timing_advance=True,
                 threshold=None):
        gr.hier_block2.__init__(self, "pcp_node",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        c = config
        self.control = pcp_node_control(c, slot, mode=mode, values=values, seed=seed,
                                        residual_cfo_std=residual_cfo_std,
                                        drop_requests=drop_requests,
                                        timing_advance=timing_advance)
        self.rx_derotator = cfo_derotator_cc(c.samp_rate, 0.0, False)
        self.detector = preamble_detector_cc(
            [c.trigger().tolist(), c.request().tolist(), c.feedback(slot).tolist()],
            float(c.detect_threshold if threshold is None else threshold), c.samp_rate)
        if self.detector.max_delay() >= c.lookahead:
            raise ValueError(f"config.lookahead: must exceed the detector's delay "
                             f"{self.detector.max_delay()}, got {c.lookahead}")
        self.scheduler = burst_scheduler_cc(c.samp_rate, c.lookahead, c.latency, 64)
        self.tx_rotator = cfo_derotator_cc(c.samp_rate, 0.0, False)
        self.connect(self, self.rx_derotator, self.detector, self.control, self.scheduler,
                     self.tx_rotator, self)
        self.msg_connect(self.control, "rx_cmd", self.rx_derotator, "cmd")
        self.msg_connect(self.control, "tx_cmd", self.tx_rotator, "cmd")
        self.message_port_register_hier_out("events")
        self.msg_connect(self.control, "events", self, "events")

    @property
    def rounds(self):
        return self.control.rounds
