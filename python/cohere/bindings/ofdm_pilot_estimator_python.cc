/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(ofdm_pilot_estimator.h) */
/* BINDTOOL_HEADER_FILE_HASH(b52dd4c97a2412827f2c7670be26700c) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/ofdm_pilot_estimator.h>

namespace py = pybind11;

void bind_ofdm_pilot_estimator(py::module& m)
{
    using gr::cohere::ofdm_pilot_estimator;
    py::class_<ofdm_pilot_estimator,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<ofdm_pilot_estimator>>(m, "ofdm_pilot_estimator", R"doc(
Per-symbol OFDM pilot channel estimates, common phase and data values.

From a frame-start tag (tag_key; a sync_peak dict's `index` is honoured), cuts
num_symbols symbols (CP + FFT, first one start_offset samples after the tag)
and posts one PDU per symbol on message port `symbols`: data = data subcarrier
values (raw, or equalized with the pilot channel interpolated linearly), meta =
{time, frame, symbol, common_phase, common_amp, pilots}. carrier_map: fft_len
entries in centred order (0 null, 1 data, 2 pilot); unitary DFT. The input
passes through to the optional output.

Args:
    fft_len, cp_len: FFT size and cyclic prefix
    carrier_map: fft_len values in {0, 1, 2}
    pilot_values: one known value per pilot, in map order, of magnitude 1e-15..1e15
    num_symbols: symbols per frame
    start_offset: samples from the tag to the first symbol's CP start
    tag_key: frame-start tag key (default "frame_start")
    equalize: post equalized instead of raw data values
)doc")
        .def(py::init(&ofdm_pilot_estimator::make),
             py::arg("fft_len"),
             py::arg("cp_len"),
             py::arg("carrier_map"),
             py::arg("pilot_values"),
             py::arg("num_symbols"),
             py::arg("start_offset") = 0,
             py::arg("tag_key") = "frame_start",
             py::arg("equalize") = false)
        .def("symbols_posted", &ofdm_pilot_estimator::symbols_posted, "Symbols posted so far.")
        .def("symbols_dropped", &ofdm_pilot_estimator::symbols_dropped, "Symbols dropped (non-finite samples) so far.");
}
