/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(cfo_derotator_cc.h) */
/* BINDTOOL_HEADER_FILE_HASH(8920d3e825b787ebdc5c9805fa952d78) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/cfo_derotator_cc.h>

namespace py = pybind11;

void bind_cfo_derotator_cc(py::module& m)
{
    using gr::cohere::cfo_derotator_cc;
    py::class_<cfo_derotator_cc,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<cfo_derotator_cc>>(m, "cfo_derotator_cc", R"doc(
Removes a carrier frequency offset with a phase-continuous NCO.

y[n] = x[n] exp(-j theta[n]), theta[n+1] = theta[n] + 2 pi cfo / samp_rate,
theta[0] = 0, n the absolute sample index. Sign convention: cfo is the offset
of the received signal (a signal received at +f Hz comes out at baseband with
cfo = f). theta is evaluated in closed form in double precision (no drift);
phase error of the output < 3.5e-7 rad at any sample.

Message port `cmd`: dict with `cfo` (Hz) and/or `phase` (rad, theta at the
application sample), optional `time` (uint64 sample index; default: next
sample). Malformed or late messages are logged and dropped.
With use_tags, `sync_peak` tags (dict cfo, phase, index, phase_at) retune at
the tag so that the preamble has phase 0 where the detector's phase holds
(`phase_at`, else `index`). Each retune tags `cfo_applied`
(dict cfo, phase, time) on its output sample.

Args:
    samp_rate: sample rate in Hz (> 0)
    cfo: initial offset to remove (Hz)
    use_tags: apply sync_peak tags

Raises ValueError for a samp_rate that is not finite and > 0, or a cfo that
is not finite or whose phase step 2 pi cfo / samp_rate overflows.
)doc")
        .def(py::init(&cfo_derotator_cc::make),
             py::arg("samp_rate"),
             py::arg("cfo") = 0.0,
             py::arg("use_tags") = false)
        .def("set_cfo", &cfo_derotator_cc::set_cfo, py::arg("cfo"),
             "Retune (Hz) at the next sample processed, phase continuous.")
        .def("cfo", &cfo_derotator_cc::cfo, "The frequency in effect (Hz).")
        .def("phase", &cfo_derotator_cc::phase, "theta of the next sample to be processed (rad, wrapped).")
        .def("set_use_tags", &cfo_derotator_cc::set_use_tags, py::arg("use_tags"),
             "Apply (True) or ignore sync_peak tags from the next call on.")
        .def("use_tags", &cfo_derotator_cc::use_tags, "Whether sync_peak tags retune the NCO.")
        .def("samp_rate", &cfo_derotator_cc::samp_rate, "Sample rate (Hz).")
        .def("commands_applied", &cfo_derotator_cc::commands_applied, "Retunes applied so far (messages, tags and setter calls).")
        .def("commands_dropped", &cfo_derotator_cc::commands_dropped, "Messages and tags dropped so far (malformed, late, queue full).");
}
