/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(virtual_radio_sink_c.h) */
/* BINDTOOL_HEADER_FILE_HASH(0b34f0a31e9031c3517f93794232b786) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/virtual_radio_sink_c.h>

namespace py = pybind11;

void bind_virtual_radio_sink_c(py::module& m)
{
    using gr::cohere::virtual_radio_sink_c;
    py::class_<virtual_radio_sink_c,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<virtual_radio_sink_c>>(m, "virtual_radio_sink_c", R"doc(
Transmit side of one node of the over-the-air emulator.

Input port k: what antenna k of `node` transmits, continuously (sample n on air
at global time n). When the input ends the node transmits zeros. NaN/Inf input
samples are sent as zeros and counted (nonfinite_count()).

Args:
    hub: the shared channel_hub
    node: node index
    nchan: antennas (must equal hub.num_antennas(node))
    timeout_ms: longest wait in one work() call
)doc")
        .def(py::init(&virtual_radio_sink_c::make),
             py::arg("hub"),
             py::arg("node"),
             py::arg("nchan") = 1,
             py::arg("timeout_ms") = 50)
        .def("node", &virtual_radio_sink_c::node)
        .def("hub", &virtual_radio_sink_c::hub)
        .def("nonfinite_count", &virtual_radio_sink_c::nonfinite_count);
}
