# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""The PCP fusion node (base station): requests, feedback, OAC reception.

Signal path (pcp_fusion, a hier block: RX stream in, TX stream out):

    RX -> pcp_fusion_control -> burst_scheduler_cc -> TX

pcp_fusion_control passes its RX stream through unchanged and keeps the
recent samples. It is the time reference: it posts round r's request
(trigger + request pilot twice) for on-air time T1 - trigger_len, measures the
responses by FFT in their slots once the last slot is in, posts the
feedback of every node that answered (reverse order), and once the payload
symbols are in, FFTs them into the OAC sums. Every burst travels as a
`burst` tag on the last sample its decision needed, for a TX time at least D
beyond it: the burst scheduler (downstream) handles it in stream order, so
it is never late (a message could be, when the machine is loaded) and a run
is deterministic.

Response measurement (slot k, window at T2_k after the CP): H_q = Y_q / P_q
on the active subcarriers, delay tau = the maximum of
|F(tau)|^2, F(tau) = sum_q H_q e^{+j 2 pi q tau / N} (the maximum-likelihood
delay of one path: the peak of the delay profile, on an 8x oversampled grid,
then Newton steps on |F|^2), and the response c = F(tau) / (number of
pilots) (the phase at the symbol start, amplitude |c|). With echoes inside
the CP the peak is the strongest path, and c is that path's amplitude (the
phase slope between adjacent pilots, used before, was noisy at low SNR and
biased by echoes; correcting for a wrong delay shrank |c| and with it rho).
The node answered if |c|^2 / noise >= min_snr (per sample) and its round
trip tau is within half a CP (the node ignores a feedback further from its
slot: it could never range, nor send). Feedback to node k:

    feedback_k advanced by tau, times  feedback_amp c_min / |c_k| e^{j (theta_des - arg c_k)}

where c_min is the weakest answering node's |c|: the amplitude carries the
power control (the node scales its payload by amp_fb / amp_request / feedback_amp
so every payload arrives with amplitude rho = c_min), the advance carries the
timing (the node learns its round trip and advances its payload).
"""

import math

import numpy as np
import pmt
from gnuradio import gr

from ..cohere_python import burst_scheduler_cc
from ..logs import block_loggers, guarded_work
from ..messages import pmt_dict
from .config import PcpConfig, fractional_delay, unitary_fft

__all__ = ["delay_of", "pcp_fusion", "pcp_fusion_control"]


def delay_of(h, q, n, oversample=8, newton=3):
    """Maximum-likelihood delay (samples, in [-n/2, n/2)) of one path from
    the channel h on subcarriers q of an n-point FFT, h_q = c e^{-j 2 pi q tau
    / n} + noise: the tau maximizing |F(tau)|^2, F(tau) = sum_q h_q e^{+j 2 pi
    q tau / n}, found on an oversampled grid (an inverse FFT) and refined by
    Newton steps on |F|^2."""
    if not np.any(h):
        return 0.0
    size = n * oversample
    grid = np.zeros(size, complex)
    np.add.at(grid, np.mod(q, size), h)
    profile = np.abs(np.fft.ifft(grid)) ** 2
    tau = int(np.argmax(profile)) / oversample
    if tau >= n / 2:
        tau -= n
    w = 2 * math.pi * np.asarray(q, float) / n
    for _ in range(newton):
        e = h * np.exp(1j * w * tau)
        f, f1, f2 = np.sum(e), np.sum(1j * w * e), np.sum(-(w ** 2) * e)
        slope = np.real(np.conj(f) * f1)
        curv = abs(f1) ** 2 + np.real(np.conj(f) * f2)
        if curv >= 0:  # not at a maximum: keep the grid's value
            break
        step = -slope / curv
        if abs(step) > 1.0 / oversample:
            break
        tau += step
    return float((tau + n / 2) % n - n / 2)  # a step may cross -n/2: the same delay


class pcp_fusion_control(gr.sync_block):
    """Control logic and OAC receiver of the fusion node (in-stream).

    Parameters
    ----------
    config : PcpConfig shared with the nodes
    rounds : number of rounds (0: until the stream ends)
    keep_symbols : keep each round's raw payload spectra in the results
        (for ground-truth analysis)
    ranging : leave each node's first answered round out of the sums (its
        ranging round; must match the nodes' timing_advance)

    Message output: `results` (a dict per round: round, t1, participants
    (slots), rho, sums (c32vector, per parameter), arrived (superposed payload
    pilots / rho), noise_var, answered (slots whose response was detected,
    including ranging ones)). Stream tags out: `burst` (PDUs for
    burst_scheduler_cc).
    """

    def __init__(self, config, rounds=0, keep_symbols=True, ranging=True):
        gr.sync_block.__init__(self, name="pcp_fusion_control",
                               in_sig=[np.complex64], out_sig=[np.complex64])
        if not isinstance(config, PcpConfig):
            raise ValueError(f"config: expected a PcpConfig, got {type(config).__name__}")
        if int(rounds) < 0:
            raise ValueError(f"rounds: must be >= 0, got {rounds!r}")
        c = self.cfg = config
        self.max_rounds = int(rounds)
        self.keep_symbols = bool(keep_symbols)
        self.ranging = bool(ranging)
        self._ranged = set()
        self._out_of_range = set()  # nodes warned about (round trip beyond cp / 2)
        self.error = None  # why the block stopped (an exception in its logic)
        self._log, self._debug = block_loggers("pcp_fusion_control")
        self._burst_key = pmt.intern("burst")
        self._tag_src = pmt.intern("pcp_fusion_control")
        self._tag_at = 0  # the sample a burst's tag goes on (see _post_burst)
        self._results_port = pmt.intern("results")
        self.message_port_register_out(self._results_port)

        request = c.request_burst()
        self._request = pmt.init_c32vector(len(request), request.tolist())
        self._feedback = {k: c.feedback(k) for k in range(1, c.num_nodes + 1)}
        spectrum = c.spectrum(c.response())
        self._active = np.flatnonzero(np.abs(spectrum) > 1e-3 * np.max(np.abs(spectrum)))
        self._pilots = spectrum[self._active]
        self._q = self._active - c.fft_len // 2  # subcarrier numbers
        self._data = c.data_index()
        self._payload_pilot_idx = c.pilot_index()
        self._payload_pilots = c.payload_pilots()

        # history: the last _keep samples cover a whole round; twice that
        # room so that the kept part moves only once per _keep samples
        self._keep = c.period + c.sym_len * 4
        self._hist = np.zeros(2 * self._keep, np.complex64)
        self._hist_start = 0  # absolute index of _hist[0]
        self._hist_len = 0
        self._round = 0
        self._posted = -1  # last round whose request was posted
        self._state = "responses"
        self._noise_var = 0.0
        self._current = None
        self.results = []

    # ----- geometry -------------------------------------------------------------------
    def _t1(self, r):
        return self.cfg.request_time(r)

    def _responses_done(self, r):
        c = self.cfg
        return self._t1(r) + c.t2(c.num_nodes) + c.packet + c.margin

    def _payload_done(self, r):
        c = self.cfg
        return self._t1(r) + c.t4 + c.oac_symbols * c.sym_len + c.margin

    def _noise_window(self, r):
        c = self.cfg
        end = self._t1(r) - c.trigger_len - c.margin
        return end - c.noise_window, end

    def _samples(self, start, count):
        i = start - self._hist_start
        if i < 0 or i + count > self._hist_len:
            raise RuntimeError(f"samples {start}..{start + count} not in the history "
                               f"({self._hist_start}..{self._hist_start + self._hist_len})")
        return self._hist[i:i + count]

    def _post_burst(self, time, samples, gain=1.0):
        """A burst for the scheduler, as a `burst` tag on sample self._tag_at."""
        meta = pmt_dict(time=pmt.from_uint64(int(time)), gain=pmt.from_complex(complex(gain)))
        if not isinstance(samples, pmt.pmt_base):
            samples = pmt.init_c32vector(len(samples), np.asarray(samples).tolist())
        self.add_item_tag(0, self._tag_at, self._burst_key, pmt.cons(meta, samples), self._tag_src)

    def _wanted(self, r):
        return self.max_rounds == 0 or r < self.max_rounds

    def _post_request(self, r):
        if self._wanted(r) and r > self._posted:
            self._post_burst(self._t1(r) - self.cfg.trigger_len, self._request)
            self._posted = r

    # ----- the two decision points -------------------------------------------------------
    def _measure_response(self, k, t1):
        c = self.cfg
        start = t1 + c.t2(k) + c.cp_len
        y = unitary_fft(self._samples(start, c.fft_len))[self._active]
        h = y / self._pilots
        tau = delay_of(h, self._q, c.fft_len)
        resp = np.mean(h * np.exp(2j * math.pi * self._q * tau / c.fft_len))
        return complex(resp), float(tau)

    def _on_responses(self, r):
        c = self.cfg
        t1 = self._t1(r)
        lo, hi = self._noise_window(r)
        self._noise_var = float(np.mean(np.abs(self._samples(lo, hi - lo)) ** 2)) if lo >= 0 else 0.0
        min_snr = 10.0 ** (c.min_snr_db / 10.0)
        resp, tau, answered = {}, {}, []
        for k in range(1, c.num_nodes + 1):
            resp[k], tau[k] = self._measure_response(k, t1)
            power = abs(resp[k]) ** 2
            if not (power > 1e-20 and power >= min_snr * self._noise_var):
                continue
            if abs(tau[k]) > c.cp_len / 2:
                # the node ignores a feedback this far from its slot
                if k not in self._out_of_range:
                    self._out_of_range.add(k)
                    self._log.warn(f"node {k}: round trip {tau[k]:.1f} samples, beyond half "
                                   f"the CP ({c.cp_len / 2:g}): it cannot range and is left "
                                   f"out (a longer cp_len or a closer node)")
                continue
            answered.append(k)
        rho = min((abs(resp[k]) for k in answered), default=0.0)
        # a node's first answered round is its ranging round (no payload yet)
        taking_part = [k for k in answered if k in self._ranged or not self.ranging]
        self._ranged.update(answered)
        for k in sorted(answered, reverse=True):  # reverse order, as scheduled
            shift = int(round(tau[k]))
            wave = fractional_delay(self._feedback[k], -(tau[k] - shift), c.fft_len, c.cp_len)
            gain = c.feedback_amp * rho / abs(resp[k]) * np.exp(
                1j * (c.theta_des - np.angle(resp[k])))
            self._post_burst(t1 + c.t3(k) - shift, wave, gain)
        self._current = {"round": r, "t1": t1, "participants": taking_part,
                         "answered": answered, "rho": rho,
                         "responses": resp, "tau": tau, "noise_var": self._noise_var}
        self._post_request(r + 1)

    def _on_payload(self, r):
        c = self.cfg
        rec = self._current
        t4 = rec["t1"] + c.t4
        spectra = np.array([unitary_fft(self._samples(t4 + m * c.sym_len + c.cp_len, c.fft_len))
                            for m in range(c.oac_symbols)])
        rho = rec["rho"]
        rot = np.exp(-1j * c.theta_des)
        if rho > 0:
            sums = (spectra[:, self._data] * rot / rho).ravel()
            pil = spectra[:, self._payload_pilot_idx] / self._payload_pilots * rot / rho
            arrived = float(np.real(np.mean(pil)))
        else:
            sums = np.zeros(c.params_per_round, complex)
            arrived = 0.0
        rec.update(sums=sums, arrived=arrived)
        if self.keep_symbols:
            rec["spectra"] = spectra
        self.results.append(rec)
        msg = pmt_dict(
            round=pmt.from_long(r), t1=pmt.from_uint64(rec["t1"]), rho=pmt.from_double(rho),
            arrived=pmt.from_double(arrived), noise_var=pmt.from_double(rec["noise_var"]),
            participants=pmt.init_s32vector(len(rec["participants"]), rec["participants"]),
            answered=pmt.init_s32vector(len(rec["answered"]), rec["answered"]),
            sums=pmt.init_c32vector(len(sums), sums.tolist()))
        self.message_port_pub(self._results_port, msg)
        self._debug.debug(f"round {r}: {len(rec['participants'])} nodes, rho {rho:.3g}, "
                        f"arrived {arrived:.2f}")

    # ----- stream -----------------------------------------------------------------------------
    def _append(self, x):
        if len(x) > self._keep:  # only the newest _keep samples can still be needed
            self._hist_start += self._hist_len + len(x) - self._keep
            self._hist_len = 0
            x = x[-self._keep:]
        n = len(x)
        if self._hist_len + n > len(self._hist):
            retain = min(self._hist_len, self._keep)
            self._hist[:retain] = self._hist[self._hist_len - retain:self._hist_len]
            self._hist_start += self._hist_len - retain
            self._hist_len = retain
        self._hist[self._hist_len:self._hist_len + n] = x
        self._hist_len += n

    def work(self, input_items, output_items):
        # an exception ends the stream, with the reason in self.error
        # (run_network raises it), instead of a thread that dies silently
        return guarded_work(self, "fusion", self._work, input_items, output_items)

    def _work(self, input_items, output_items):
        x = input_items[0]
        n = len(output_items[0])
        output_items[0][:] = x[:n]
        if self._posted < 0:
            self._tag_at = self.nitems_read(0)
            self._post_request(0)
        end = self.nitems_read(0) + n
        pos = self.nitems_read(0)
        # feed the history in pieces so that every decision is taken in the
        # call containing its decision point (nothing beyond it is needed)
        while pos < end:
            if not self._wanted(self._round):
                break  # every round is done: no window will be read again
            point = (self._responses_done(self._round) if self._state == "responses"
                     else self._payload_done(self._round))
            stop = min(end, point)
            self._append(x[pos - self.nitems_read(0):stop - self.nitems_read(0)])
            pos = stop
            if pos == point:
                self._tag_at = point - 1  # the last sample the decision needed
                if self._state == "responses":
                    self._on_responses(self._round)
                    self._state = "payload"
                else:
                    self._on_payload(self._round)
                    self._state = "responses"
                    self._round += 1
        return n


class pcp_fusion(gr.hier_block2):
    """The fusion node: RX samples in, TX samples out (see module doc)."""

    def __init__(self, config, rounds=0, keep_symbols=True, ranging=True):
        gr.hier_block2.__init__(self, "pcp_fusion",
                                gr.io_signature(1, 1, gr.sizeof_gr_complex),
                                gr.io_signature(1, 1, gr.sizeof_gr_complex))
        self.control = pcp_fusion_control(config, rounds=rounds, keep_symbols=keep_symbols,
                                          ranging=ranging)
        self.scheduler = burst_scheduler_cc(config.samp_rate, config.lookahead,
                                            config.latency, 4 * config.num_nodes + 16)
        self.connect(self, self.control, self.scheduler, self)
        self.message_port_register_hier_out("results")
        self.msg_connect(self.control, "results", self, "results")

    @property
    def results(self):
        return self.control.results
