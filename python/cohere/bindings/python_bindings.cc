/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include <pybind11/pybind11.h>

#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

namespace py = pybind11;

void bind_channel_hub(py::module& m);
void bind_virtual_radio_source_c(py::module& m);
void bind_virtual_radio_sink_c(py::module& m);
void bind_cfo_derotator_cc(py::module& m);
void bind_phase_precoder_cc(py::module& m);
void bind_burst_scheduler_cc(py::module& m);
void bind_ofdm_pilot_estimator(py::module& m);
void bind_preamble_detector_cc(py::module& m);

// import_array() is a macro that returns NULL on failure.
void* init_numpy()
{
    import_array();
    return NULL;
}

PYBIND11_MODULE(cohere_python, m)
{
    init_numpy();
    // base block classes must be registered before ours
    py::module::import("gnuradio.gr");

    bind_channel_hub(m);
    bind_virtual_radio_source_c(m);
    bind_virtual_radio_sink_c(m);
    bind_cfo_derotator_cc(m);
    bind_phase_precoder_cc(m);
    bind_burst_scheduler_cc(m);
    bind_ofdm_pilot_estimator(m);
    bind_preamble_detector_cc(m);
}
