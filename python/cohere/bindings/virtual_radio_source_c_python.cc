/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(virtual_radio_source_c.h) */
/* BINDTOOL_HEADER_FILE_HASH(eb74318e2214f8e15a01c61af14b84e8) */

#include <pybind11/complex.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/virtual_radio_source_c.h>

namespace py = pybind11;

void bind_virtual_radio_source_c(py::module& m)
{
    using gr::cohere::virtual_radio_source_c;
    py::class_<virtual_radio_source_c,
               gr::sync_block,
               gr::block,
               gr::basic_block,
               std::shared_ptr<virtual_radio_source_c>>(m, "virtual_radio_source_c", R"doc(
Receive side of one node of the over-the-air emulator.

Output port k: what antenna k of `node` receives (all transmitters through their
links, this node's RX oscillator, chain gain and noise). Tags rx_time (0, 0.0),
rx_rate and rx_freq at offset 0.

Args:
    hub: the shared channel_hub
    node: node index
    nchan: antennas (must equal hub.num_antennas(node))
    nsamples: finish after this many samples (0: run until stopped)
    timeout_ms: one slice of the wait for samples (a stop is seen within one slice)
)doc")
        .def(py::init(&virtual_radio_source_c::make),
             py::arg("hub"),
             py::arg("node"),
             py::arg("nchan") = 1,
             py::arg("nsamples") = 0,
             py::arg("timeout_ms") = 50)
        .def("node", &virtual_radio_source_c::node)
        .def("hub", &virtual_radio_source_c::hub)
        .def("nproduced", &virtual_radio_source_c::nproduced);
}
