/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(burst_scheduler_cc.h) */
/* BINDTOOL_HEADER_FILE_HASH(491cf6fd55a899bcee1d2440f1ac85b0) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/burst_scheduler_cc.h>

namespace py = pybind11;

void bind_burst_scheduler_cc(py::module& m)
{
    using gr::cohere::burst_scheduler_cc;
    py::class_<burst_scheduler_cc,
               gr::block,
               gr::basic_block,
               std::shared_ptr<burst_scheduler_cc>>(m, "burst_scheduler_cc", R"doc(
Deterministic RX-to-TX turnaround (the software twin of FPGA trigger timers).

Input: RX stream (item n = RX index n). Output: TX stream (item k = TX index
k, on the air when RX index k + latency arrives). One for one with a
lookahead D: TX 0..D-1 are emitted first, then TX n + D when RX n is read;
whatever the block learns at RX n acts from TX n + D on. A burst for on-air
time T is written at TX T - latency; triggered at RX n it needs
T >= n + D + latency, otherwise it is late: dropped whole, counted
(late_count()), reported on port `late` (dict time, tx_index, frontier,
reason, source) and logged at most once per second.

Ports (in): `burst` PDU (meta: time = T, optional phase, gain; c32vector),
`decision` dict (event, burst PDU or none) for `response_pending` tags (the
block stalls at the tag until its decision arrives), `echo` dict editing one
echo table entry (preamble, clear, waveform, offset or time, mode, phase,
gain, amp_scale, once). Tags consumed: `sync_peak` (triggers the echo entry
of its preamble, else entry -1: waveform * gain * (amp_scale * amp when
amp_scale > 0) * exp(j rot) at T = round(index) + offset or T = time, rot =
+phase, -phase or the fixed phase; once entries are removed when
triggered), `response_pending`, and in-band `echo` (dict, as the echo
message) and `burst` (PDU, as the burst message) tags at their RX index.
Tags produced: tx_sob + tx_time on the
first, tx_eob on the last sample of every transmitted segment.

Args:
    samp_rate: sample rate in Hz (> 0), for tx_time
    lookahead: D >= 1
    latency: L >= 0, radio latency in samples
    max_pending: pending bursts (and early decisions), 1..1048576
    echo_waveform: samples of the initial echo entry (empty: no entry)
    echo_offset: on-air time of the echo after round(index); >= D + L
    echo_preamble: preamble id of that entry (-1: any preamble without its
        own entry); the default entry (echo_preamble())
    echo_phase_mode: 'plus', 'minus' or 'fixed'
    echo_phase: rotation in mode 'fixed' (rad)
)doc")
        .def(py::init(&burst_scheduler_cc::make),
             py::arg("samp_rate"),
             py::arg("lookahead"),
             py::arg("latency") = 0,
             py::arg("max_pending") = 256,
             py::arg("echo_waveform") = std::vector<gr_complex>(),
             py::arg("echo_offset") = 0,
             py::arg("echo_preamble") = -1,
             py::arg("echo_phase_mode") = "plus",
             py::arg("echo_phase") = 0.0)
        .def("set_echo", &burst_scheduler_cc::set_echo,
             py::arg("waveform"),
             py::arg("offset"),
             py::arg("preamble") = -1,
             py::arg("phase_mode") = "plus",
             py::arg("phase") = 0.0,
             "Replace the echo entry of `preamble` (an empty waveform removes it) and "
             "make it the default entry; gain 1, amp_scale 0, once False (ValueError "
             "like the constructor).")
        .def("clear_echo", &burst_scheduler_cc::clear_echo, py::arg("preamble"),
             "Remove the echo entry of `preamble` (if any).")
        .def("echo_preambles", &burst_scheduler_cc::echo_preambles,
             "Preamble ids with an echo entry, ascending.")
        .def("echo_preamble", &burst_scheduler_cc::echo_preamble,
             "The default entry: echo_preamble at construction, then that of the last "
             "set_echo().")
        .def("echo_waveform",
             py::overload_cast<>(&burst_scheduler_cc::echo_waveform, py::const_))
        .def("echo_waveform",
             py::overload_cast<int64_t>(&burst_scheduler_cc::echo_waveform, py::const_),
             py::arg("preamble"))
        .def("echo_offset",
             py::overload_cast<>(&burst_scheduler_cc::echo_offset, py::const_))
        .def("echo_offset",
             py::overload_cast<int64_t>(&burst_scheduler_cc::echo_offset, py::const_),
             py::arg("preamble"))
        .def("echo_phase_mode",
             py::overload_cast<>(&burst_scheduler_cc::echo_phase_mode, py::const_))
        .def("echo_phase_mode",
             py::overload_cast<int64_t>(&burst_scheduler_cc::echo_phase_mode, py::const_),
             py::arg("preamble"))
        .def("echo_phase",
             py::overload_cast<>(&burst_scheduler_cc::echo_phase, py::const_))
        .def("echo_phase",
             py::overload_cast<int64_t>(&burst_scheduler_cc::echo_phase, py::const_),
             py::arg("preamble"))
        .def("echo_time", &burst_scheduler_cc::echo_time, py::arg("preamble"),
             "On-air time T of an absolute echo entry; -1 in relative mode.")
        .def("echo_gain", &burst_scheduler_cc::echo_gain, py::arg("preamble"))
        .def("echo_amp_scale", &burst_scheduler_cc::echo_amp_scale, py::arg("preamble"))
        .def("echo_once", &burst_scheduler_cc::echo_once, py::arg("preamble"))
        .def("set_tx_time_offset", &burst_scheduler_cc::set_tx_time_offset,
             py::arg("full_secs"), py::arg("frac_secs"),
             "tx_time of TX index k becomes offset + k / samp_rate.")
        .def("samp_rate", &burst_scheduler_cc::samp_rate, "Sample rate (Hz) of tx_time.")
        .def("lookahead", &burst_scheduler_cc::lookahead, "D: zeros emitted first; a burst is on time when T - L >= RX index + D.")
        .def("latency", &burst_scheduler_cc::latency, "L: TX index = on-air RX time - L.")
        .def("max_pending", &burst_scheduler_cc::max_pending, "Capacity of the burst queue.")
        .def("late_count", &burst_scheduler_cc::late_count, "Bursts dropped because their first TX sample was already produced.")
        .def("dropped_count", &burst_scheduler_cc::dropped_count, "Bursts and messages dropped for other reasons (malformed, queue full).")
        .def("scheduled_count", &burst_scheduler_cc::scheduled_count, "Bursts accepted into the queue (messages, decisions, echoes).")
        .def("pending", &burst_scheduler_cc::pending, "Bursts waiting to be (completely) produced.")
        .def("stalled", &burst_scheduler_cc::stalled, "True while waiting for a decision at a `response_pending` tag.");
}
