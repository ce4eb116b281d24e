/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(phase_precoder_cc.h) */
/* BINDTOOL_HEADER_FILE_HASH(5e27659f000725a67363fb1563e2f30d) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/phase_precoder_cc.h>

namespace py = pybind11;

void bind_phase_precoder_cc(py::module& m)
{
    using gr::cohere::phase_precoder_cc;
    py::class_<phase_precoder_cc,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<phase_precoder_cc>>(m, "phase_precoder_cc", R"doc(
Phase-coded-pilot precoder: y[n] = gain exp(j phase) x[n].

Message port `cmd`: dict with `phase` (rad) and/or `gain` (real or complex),
optional `time` (uint64 sample index; default: next sample). The change lands
exactly on that sample and is tagged `phase_applied` (dict phase, gain,
time). Malformed or late messages are logged and dropped. A `phase_cmd`
stream tag (dict phase and/or gain) applies at exactly its sample (in band,
never late). Commands without time and setter calls fold into one until the
next sample.

Args:
    phase: initial phase (rad)
    gain: initial gain (complex)
)doc")
        .def(py::init(&phase_precoder_cc::make),
             py::arg("phase") = 0.0,
             py::arg("gain") = gr_complex(1.0f, 0.0f))
        .def("set_phase", &phase_precoder_cc::set_phase, py::arg("phase"),
             "New phase (rad) from the next sample processed.")
        .def("set_gain", &phase_precoder_cc::set_gain, py::arg("gain"),
             "New gain from the next sample processed.")
        .def("phase", &phase_precoder_cc::phase, "Phase in effect (rad).")
        .def("gain", &phase_precoder_cc::gain, "Gain in effect.")
        .def("commands_applied", &phase_precoder_cc::commands_applied, "Changes applied so far (messages, setter calls and `phase_cmd` tags).")
        .def("commands_dropped", &phase_precoder_cc::commands_dropped, "Messages and `phase_cmd` tags dropped so far (malformed, late, queue full).");
}
