/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(preamble_detector_cc.h) */
/* BINDTOOL_HEADER_FILE_HASH(74cef226f828cb3c361d3612a9e69cd1) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/preamble_detector_cc.h>

namespace py = pybind11;

void bind_preamble_detector_cc(py::module& m)
{
    using gr::cohere::preamble_detector_cc;
    py::class_<preamble_detector_cc,
               gr::block,
               gr::basic_block,
               std::shared_ptr<preamble_detector_cc>>(m, "preamble_detector_cc", R"doc(
Finds known preambles in a continuous stream; passes the samples through unchanged.

One input, one output, sample n out = sample n in (no delay). Several preambles
are searched at once; preamble i has the id i. Metric of the N-sample window at
n: |sum conj(p[k]) x[n+k]|^2 / (||p||^2 sum |x[n+k]|^2), level independent; for
white noise it is Beta(1, N-1), P(metric > t) = (1 - t)^(N-1). Default threshold
per preamble: false alarms 1e-6 per sample, at least 0.01. One detection per
occurrence (largest metric within N samples of the crossing).

Stream tag `sync_peak` at the peak sample, a dict: index (fractional start
sample), phase (rad), phase_at (the fractional sample where phase holds:
index with a measured CFO, else the preamble's energy centroid), amp,
snr_db, cfo (Hz, periodic preambles only), preamble (id). Message port `sync`: the same dict plus time (the tag's sample index).
NaN/Inf input samples count as zeros for the detector.

Args:
    preambles: list of preambles (each a sequence of 16..4096 complex samples)
    threshold: metric threshold in (0, 1) for all preambles; 0 = per-preamble default
    samp_rate: sample rate in Hz (for cfo)

Raises ValueError for no preambles, a bad length, a non-finite sample, an RMS
outside 1e-15..1e15, a threshold outside (0, 1) other than 0, or a samp_rate
that is not finite and > 0. Logs a warning when one preamble reaches
another's threshold (it would be tagged with both ids).
)doc")
        .def(py::init(&preamble_detector_cc::make),
             py::arg("preambles"),
             py::arg("threshold") = 0.0,
             py::arg("samp_rate") = 1.0)
        .def("set_threshold",
             &preamble_detector_cc::set_threshold,
             py::arg("threshold"),
             "Threshold in (0, 1) for every preamble, or 0 for the defaults.")
        .def("threshold", &preamble_detector_cc::threshold, py::arg("preamble") = 0)
        .def("default_threshold", &preamble_detector_cc::default_threshold, py::arg("preamble") = 0)
        .def("num_preambles", &preamble_detector_cc::num_preambles, "Number of preambles searched.")
        .def("preamble_length", &preamble_detector_cc::preamble_length, py::arg("preamble") = 0)
        .def("repetition_period",
             &preamble_detector_cc::repetition_period,
             py::arg("preamble") = 0,
             "Repetition period L used for the CFO (0: none).")
        .def("samp_rate", &preamble_detector_cc::samp_rate, "Sample rate (Hz) used for `cfo`.")
        .def("max_delay",
             &preamble_detector_cc::max_delay,
             "Largest lag (samples) of the output behind the newest input sample.")
        .def("nonfinite_count", &preamble_detector_cc::nonfinite_count, "Input samples treated as zeros because they were NaN or infinite.")
        .def("detection_count", &preamble_detector_cc::detection_count, "Detections tagged so far.");
}
