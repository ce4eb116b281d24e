/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

/* BINDTOOL_GEN_AUTOMATIC(0) */
/* BINDTOOL_USE_PYGCCXML(0) */
/* BINDTOOL_HEADER_FILE(channel_hub.h) */
/* BINDTOOL_HEADER_FILE_HASH(e7f2c45a63de99bb373c06285eaa05ef) */

#include <pybind11/complex.h>
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <gnuradio/cohere/channel_hub.h>

namespace py = pybind11;

void bind_channel_hub(py::module& m)
{
    using gr::cohere::channel_hub;
    using release = py::call_guard<py::gil_scoped_release>;

    py::class_<channel_hub, std::shared_ptr<channel_hub>>(m, "channel_hub", R"doc(
The over-the-air emulator of a whole multi-node testbed.

Shared by one virtual_radio_sink_c (TX) and one virtual_radio_source_c (RX) per
node in one flowgraph; it couples them without a stream loop. Configure it
before the flowgraph starts (setters raise RuntimeError afterwards, except
retune). Most users build it with cohere.make_testbed(...).

Args:
    num_nodes: 1..64
    samp_rate: sample rate in Hz
    center_freq: carrier in Hz
    seed: seed of every random draw
    antennas: antennas per node (one value for all, or one per node), 1..8
)doc")
        .def(py::init(&channel_hub::make),
             py::arg("num_nodes"),
             py::arg("samp_rate"),
             py::arg("center_freq"),
             py::arg("seed") = 0,
             py::arg("antennas") = std::vector<int>{ 1 })
        .def_static("make",
                    &channel_hub::make,
                    py::arg("num_nodes"),
                    py::arg("samp_rate"),
                    py::arg("center_freq"),
                    py::arg("seed") = 0,
                    py::arg("antennas") = std::vector<int>{ 1 })
        .def("num_nodes", &channel_hub::num_nodes)
        .def("num_antennas", &channel_hub::num_antennas, py::arg("node"))
        .def("samp_rate", &channel_hub::samp_rate)
        .def("center_freq", &channel_hub::center_freq)
        .def("seed", &channel_hub::seed)
        .def("set_ppm", &channel_hub::set_ppm, py::arg("node"), py::arg("ppm"),
             "Oscillator offset (ppm): CFO = ppm 1e-6 fc.")
        .def("ppm", &channel_hub::ppm, py::arg("node"))
        .def("set_phase_noise", &channel_hub::set_phase_noise, py::arg("node"), py::arg("c"),
             "Wiener phase-noise constant c (s): increment variance 4 pi^2 fc^2 c / fs.")
        .def("phase_noise", &channel_hub::phase_noise, py::arg("node"))
        .def("set_initial_phase", &channel_hub::set_initial_phase, py::arg("node"), py::arg("phase"))
        .def("initial_phase", &channel_hub::initial_phase, py::arg("node"))
        .def("set_sfo_enabled", &channel_hub::set_sfo_enabled, py::arg("enabled"))
        .def("sfo_enabled", &channel_hub::sfo_enabled)
        .def("set_tx_gains", &channel_hub::set_tx_gains, py::arg("node"), py::arg("gains"))
        .def("set_rx_gains", &channel_hub::set_rx_gains, py::arg("node"), py::arg("gains"))
        .def("set_chain_gain_spread", &channel_hub::set_chain_gain_spread,
             py::arg("amplitude_std_db"), py::arg("phase_spread"))
        .def("tx_gains", &channel_hub::tx_gains, py::arg("node"))
        .def("rx_gains", &channel_hub::rx_gains, py::arg("node"))
        .def("set_noise_power", &channel_hub::set_noise_power, py::arg("node"), py::arg("power"))
        .def("noise_power", &channel_hub::noise_power, py::arg("node"))
        .def("set_half_duplex", &channel_hub::set_half_duplex, py::arg("enabled"),
             py::arg("leakage_db") = -std::numeric_limits<double>::infinity())
        .def("set_link_gain", &channel_hub::set_link_gain, py::arg("tx"), py::arg("rx"),
             py::arg("gain"),
             "Air gain tx -> rx, row-major num_antennas(rx) x num_antennas(tx); rx -> tx "
             "becomes its transpose.")
        .def("set_link_delay", &channel_hub::set_link_delay, py::arg("tx"), py::arg("rx"),
             py::arg("delay"))
        .def("set_link_taps", &channel_hub::set_link_taps, py::arg("tx"), py::arg("rx"),
             py::arg("delays"), py::arg("gains"))
        .def("set_positions", &channel_hub::set_positions, py::arg("x"), py::arg("y"))
        .def("set_path_loss", &channel_hub::set_path_loss, py::arg("exponent"),
             py::arg("ref_loss_db"), py::arg("ref_distance") = 1.0, py::arg("shadowing_db") = 0.0)
        .def("set_rayleigh", &channel_hub::set_rayleigh, py::arg("enabled"))
        .def("set_velocity", &channel_hub::set_velocity, py::arg("node"), py::arg("speed"),
             py::arg("angle") = 0.0)
        .def("set_buffer_size", &channel_hub::set_buffer_size, py::arg("samples"))
        .def("set_latency", &channel_hub::set_latency, py::arg("node"), py::arg("samples"),
             "Radio latency L: TX sample n leaves when RX sample n + L arrives.")
        .def("latency", &channel_hub::latency, py::arg("node"))
        .def("retune", &channel_hub::retune, py::arg("node"), py::arg("at"),
             py::call_guard<py::gil_scoped_release>(),
             "New random LO phase for node from sample `at` on; returns it.")
        .def(
            "lo_phase",
            [](channel_hub& h, int node, uint64_t start, size_t count) {
                std::vector<double> v;
                {
                    py::gil_scoped_release nogil;
                    v = h.lo_phase(node, start, count);
                }
                return py::array_t<double>(v.size(), v.data());
            },
            py::arg("node"), py::arg("start"), py::arg("count"),
            "True LO phase (rad, wrapped) of node for samples start .. start+count-1.")
        .def("lo_frequency", &channel_hub::lo_frequency, py::arg("node"),
             "True LO frequency offset of node (Hz).")
        .def("link_gain", &channel_hub::link_gain, py::arg("tx"), py::arg("rx"))
        .def("link_delay", &channel_hub::link_delay, py::arg("tx"), py::arg("rx"))
        .def("enable_capture", &channel_hub::enable_capture, py::arg("rx_node"),
             py::arg("max_samples"))
        .def(
            "captured",
            [](channel_hub& h, int rx_node, int tx_node, int rx_antenna) {
                uint64_t start = 0;
                auto v = h.captured(rx_node, tx_node, rx_antenna, start);
                return py::make_tuple(start,
                                      py::array_t<std::complex<float>>(v.size(), v.data()));
            },
            py::arg("rx_node"), py::arg("tx_node"), py::arg("rx_antenna") = 0,
            "(start, samples): tx_node's noise-free component at rx_node's antenna.")
        .def("tx_position", &channel_hub::tx_position, py::arg("node"))
        .def("rx_position", &channel_hub::rx_position, py::arg("node"))
        .def("finish_tx", &channel_hub::finish_tx, py::arg("node"), release())
        .def("finish_rx", &channel_hub::finish_rx, py::arg("node"), release())
        .def("receivers_done", &channel_hub::receivers_done);
}
