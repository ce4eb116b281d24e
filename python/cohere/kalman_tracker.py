# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""kalman_phase_tracker: message block around the wrapped-innovation Kalman trackers
of gnuradio.cohere.algorithms.kalman.

Input port ``meas``: a PMT dict with
    phase  (double, rad, any branch; NaN/Inf = missing measurement)
    time   (integer sample index; must increase for the random_walk and
            constant_velocity models, whose dynamics use the time step)
Output port ``est``: a PMT dict with
    phase       estimate (rad, in [-pi, pi))
    P           error variance of the phase: for model "paper" P_n of (19),
                the prediction variance of the next alpha; for the other
                models the a-posteriori variance of the phase
    time        the measurement's time
    innovation  wrapped innovation (NaN when the measurement was missing)
    gain        Kalman gain on the phase (0 when missing)
    measured    False when the phase was NaN/Inf (prediction only)
    frequency   (constant_velocity only) rad per sample

Malformed messages (not a dict, no numeric phase or time, time not
increasing) are logged (rate-limited) and dropped; a NaN/Inf phase is not
malformed: the tracker predicts and warns through the gnuradio.cohere.kalman
logger.
"""

import math

import pmt
from gnuradio import gr

from .algorithms.kalman import PhaseTracker, WrappedPhaseKalman
from .logs import GrLogAdapter, RateLimitedWarning
from .messages import pmt_dict

__all__ = ["kalman_phase_tracker"]

MODELS = ("paper", "random_walk", "constant_velocity")


def _number(value):
    """float of a PMT number (real, integer), else None."""
    if pmt.is_real(value) or pmt.is_integer(value) or pmt.is_uint64(value):
        return float(pmt.to_python(value))
    return None


class kalman_phase_tracker(gr.basic_block):
    """Wrapped-innovation Kalman phase tracker on messages.

    Parameters
    ----------
    model : "paper" (WrappedPhaseKalman, eqs. (17)-(19) of the broken-TDD
        scheme: one step per message, time only passed through),
        "random_walk" or "constant_velocity" (PhaseTracker, time step = the
        difference of the messages' sample indices)
    sigma_zeta2, sigma_xi2, sigma_mu2 : variances of the "paper" model (rad^2)
    q_phase : phase random-walk variance per sample (rad^2) (other models)
    q_freq : frequency random-walk variance per sample ((rad/sample)^2 per
        sample) (constant_velocity)
    r : measurement variance (rad^2) (other models)
    P0 : initial variance of the phase (rad^2); for constant_velocity the
        frequency starts with variance freq_var0
    phase0 : initial estimate (rad)
    freq_var0 : initial frequency variance ((rad/sample)^2), constant_velocity
    """

    def __init__(self, model="paper", sigma_zeta2=1e-3, sigma_xi2=0.0, sigma_mu2=1e-2,
                 q_phase=1e-6, q_freq=0.0, r=1e-2, P0=math.pi ** 2 / 3.0, phase0=0.0,
                 freq_var0=1e-6):
        gr.basic_block.__init__(self, name="kalman_phase_tracker", in_sig=None, out_sig=None)
        if model not in MODELS:
            raise ValueError(f"model must be one of {MODELS}, got {model!r}")
        self.model = model
        if model == "paper":
            self.tracker = WrappedPhaseKalman(sigma_zeta2, sigma_xi2, sigma_mu2,
                                              estimate=phase0, P0=P0)
        else:
            if model == "constant_velocity":
                if not (math.isfinite(freq_var0) and freq_var0 >= 0.0):
                    raise ValueError(f"freq_var0 must be finite and >= 0, got {freq_var0!r}")
                P = [[float(P0), 0.0], [0.0, float(freq_var0)]]
            else:
                P = P0
            self.tracker = PhaseTracker(model, q_phase=q_phase, q_freq=q_freq, r=r,
                                        phase0=phase0, P0=P)
        self._last_time = None
        self.n_in = 0
        self.n_out = 0
        self.n_dropped = 0
        self._drop_warn = RateLimitedWarning(GrLogAdapter("kalman_phase_tracker"), 5.0)
        self.message_port_register_in(pmt.intern("meas"))
        self.message_port_register_out(pmt.intern("est"))
        self.set_msg_handler(pmt.intern("meas"), self._handle)

    # -- helpers --------------------------------------------------------------
    def _drop(self, why, msg):
        self.n_dropped += 1
        text = pmt.write_string(msg)
        if len(text) > 120:
            text = text[:117] + "..."
        self._drop_warn("kalman_phase_tracker: dropped malformed message (%s): %s", why, text)

    def _parse(self, msg):
        if not pmt.is_dict(msg):
            return None, None, "not a dict"
        phase = pmt.dict_ref(msg, pmt.intern("phase"), pmt.PMT_NIL)
        tval = pmt.dict_ref(msg, pmt.intern("time"), pmt.PMT_NIL)
        p = _number(phase)
        if p is None:
            return None, None, "no numeric 'phase'"
        t = _number(tval)
        if t is None or not math.isfinite(t):
            return None, None, "no numeric 'time'"
        if abs(t) >= 2.0 ** 53:  # beyond the integers a double holds exactly
            return None, None, f"'time' {t:g} out of range (|time| < 2^53)"
        return p, t, None

    # -- handler --------------------------------------------------------------
    def _handle(self, msg):
        # an exception would end the message thread: nothing after it would
        # ever be handled; log and drop instead
        try:
            self._handle_one(msg)
        except Exception as exc:  # noqa: BLE001 - reported, not swallowed
            self._drop(f"{type(exc).__name__}: {exc}", msg)

    def _handle_one(self, msg):
        self.n_in += 1
        p, t, err = self._parse(msg)
        if err is None and self._last_time is not None and t <= self._last_time \
                and self.model != "paper":
            err = f"time {t:g} does not increase (last {self._last_time:g})"
        if err is not None:
            self._drop(err, msg)
            return
        measured = math.isfinite(p)
        if self.model == "paper":
            est = float(self.tracker.update(p))
            P = float(self.tracker.P)
            gain = float(self.tracker.gain)
            innov = float(self.tracker.innovation)
        else:
            est = self.tracker.update(p, t)
            P = float(self.tracker.P[0, 0])
            gain = float(self.tracker.gain[0])
            innov = float(self.tracker.innovation)
        self._last_time = t
        fields = dict(phase=pmt.from_double(est), P=pmt.from_double(P),
                      time=pmt.from_uint64(int(t)) if t >= 0 else pmt.from_long(int(t)),
                      innovation=pmt.from_double(innov), gain=pmt.from_double(gain),
                      measured=pmt.from_bool(measured))
        if self.model == "constant_velocity":
            fields["frequency"] = pmt.from_double(self.tracker.frequency)
        out = pmt_dict(**fields)
        self.n_out += 1
        self.message_port_pub(pmt.intern("est"), out)
