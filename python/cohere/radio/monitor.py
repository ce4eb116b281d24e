# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Watching a radio for the events that invalidate its latency L.

L (TX sample n leaves when RX sample n + L arrives) holds only while TX and RX
stream without a gap. radio_monitor listens to
- the RX stream's tags: an `rx_time` tag after sample 0 is a discontinuity
  (gr-uhd re-tags the first sample after an overflow), an `rx_time` tag at 0
  is the start;
- the `async` message port: the TX sink's asynchronous reports (gr-uhd
  usrp_sink `async_msgs`: a dict or a (uhd_async_msg . dict) pair whose
  `event_code` lists underflow, underflow_in_packet, seq_error,
  seq_error_in_burst, time_error (late), burst_ack).
- with samp_rate > 0, the RX sample count against the wall clock, for radios
  whose driver tags nothing (gr-iio's Pluto, most gr-soapy devices): a
  radio streams exactly samp_rate samples per second, so when the samples
  received since the last check fall short of the elapsed time by more than
  rate_slack seconds' worth, samples were dropped (an overflow). The clock
  starts at the first sample and restarts after each such gap, so start-up
  and one gap are never counted twice.
Every event is recorded (kind, RX sample index, detail) and logged (1st, 2nd,
4th, ... of a kind, so a storm does not flood the log); all but burst_ack
invalidate L from that point on (`latency_valid`, `invalid_from`).
"""

import math
import numbers
import threading
import time

import numpy as np
import pmt
from gnuradio import gr

from ..logs import block_loggers

__all__ = ["radio_monitor", "INVALIDATING"]

INVALIDATING = ("overflow", "underflow", "underflow_in_packet", "seq_error",
                "seq_error_in_burst", "time_error", "rx_rate_gap")


def _event_codes(msg):
    """The event code symbols of a gr-uhd async message (any of its forms)."""
    if pmt.is_pair(msg) and not pmt.is_dict(msg) and pmt.is_dict(pmt.cdr(msg)):
        msg = pmt.cdr(msg)
    if not pmt.is_dict(msg):
        return []
    code = pmt.dict_ref(msg, pmt.intern("event_code"), pmt.PMT_NIL)
    out = []
    while pmt.is_pair(code):  # a PMT list of symbols
        if pmt.is_symbol(pmt.car(code)):
            out.append(pmt.symbol_to_string(pmt.car(code)))
        code = pmt.cdr(code)
    if pmt.is_symbol(code) and not pmt.is_null(code):
        out.append(pmt.symbol_to_string(code))
    return out


class radio_monitor(gr.sync_block):
    """RX stream in (a branch of the radio's channel 0), message port `async`
    in; records the events that invalidate L (see module doc).

    samp_rate: the radio's sample rate for the wall-clock check (0: off);
    rate_slack: seconds' worth of samples the stream may lag the clock
    (host scheduling, driver buffers) before it counts as a gap; clock: the
    time source (seconds; tests pass their own)."""

    def __init__(self, name="radio", samp_rate=0.0, rate_slack=0.05, clock=time.monotonic):
        for key, value, ok, cond in (("samp_rate", samp_rate, lambda v: v >= 0, ">= 0"),
                                     ("rate_slack", rate_slack, lambda v: v > 0, "> 0")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not (math.isfinite(value) and ok(value)):
                raise ValueError(f"{key}: must be a finite number {cond}, got {value!r}")
        gr.sync_block.__init__(self, name="radio_monitor", in_sig=[np.complex64], out_sig=None)
        self._fs = float(samp_rate)
        self._slack = float(rate_slack)
        self._clock = clock
        self._t0 = None  # clock and sample count where the rate check (re)started
        self._n0 = 0
        self._log, _ = block_loggers(f"radio_monitor[{name}]")
        self._lock = threading.Lock()
        self._rx_time = pmt.intern("rx_time")
        self.events = []
        self.counts = {}
        self.invalid_from = None  # RX sample index of the first invalidating event
        self.message_port_register_in(pmt.intern("async"))
        self.set_msg_handler(pmt.intern("async"), self._on_async)

    @property
    def latency_valid(self):
        return self.invalid_from is None

    def _record(self, kind, sample, detail=""):
        with self._lock:
            n = self.counts[kind] = self.counts.get(kind, 0) + 1
            self.events.append({"event": kind, "sample": int(sample), "detail": detail})
            if kind in INVALIDATING:
                first = self.invalid_from is None or sample < self.invalid_from
                self.invalid_from = int(sample) if first else self.invalid_from
        if n & (n - 1) == 0:  # 1st, 2nd, 4th, ...
            suffix = "; L is no longer valid: calibrate again" if kind in INVALIDATING else ""
            self._log.warn(f"{kind} at RX sample {sample} ({n} so far){suffix}")

    def _on_async(self, msg):
        sample = self.nitems_read(0)  # the RX position when the report arrived
        for code in _event_codes(msg):
            if code != "burst_ack":
                self._record(code, sample, "TX async report")

    def _check_rate(self, end):
        now = self._clock()
        if self._t0 is None:
            self._t0, self._n0 = now, end
            return
        missing = (now - self._t0) * self._fs - (end - self._n0)
        if missing > self._slack * self._fs:
            self._record("rx_rate_gap", end,
                         f"{missing:.0f} samples fewer than {self._fs:g} Sps over "
                         f"{now - self._t0:.3f} s (dropped by the radio or its driver)")
            self._t0, self._n0 = now, end

    def work(self, input_items, output_items):
        n = len(input_items[0])
        for tag in self.get_tags_in_window(0, 0, n, self._rx_time):
            if tag.offset > 0:
                self._record("overflow", tag.offset, "rx_time re-tagged (RX gap)")
        if self._fs > 0:
            self._check_rate(self.nitems_read(0) + n)
        return n

    def report(self):
        with self._lock:
            return {"latency_valid": self.invalid_from is None, "invalid_from": self.invalid_from,
                    "counts": dict(self.counts), "events": list(self.events)}
