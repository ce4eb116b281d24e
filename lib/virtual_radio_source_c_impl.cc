/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "virtual_radio_source_c_impl.h"
#include <gnuradio/io_signature.h>
#include <boost/thread/thread.hpp>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {

namespace {
int checked_nchan(const channel_hub::sptr& hub, int nchan)
{
    if (!hub)
        throw std::invalid_argument("virtual_radio_source_c: hub must not be None");
    if (nchan < 1 || nchan > 8)
        throw std::invalid_argument("virtual_radio_source_c: nchan must be in 1..8, got " +
                                    std::to_string(nchan));
    return nchan;
}
constexpr long default_output_buffer = 32768; // items per channel
} // namespace

virtual_radio_source_c::sptr virtual_radio_source_c::make(
    channel_hub::sptr hub, int node, int nchan, uint64_t nsamples, int timeout_ms)
{
    return gnuradio::make_block_sptr<virtual_radio_source_c_impl>(
        hub, node, nchan, nsamples, timeout_ms);
}

virtual_radio_source_c_impl::virtual_radio_source_c_impl(
    channel_hub::sptr hub, int node, int nchan, uint64_t nsamples, int timeout_ms)
    : gr::sync_block("virtual_radio_source_c",
                     gr::io_signature::make(0, 0, 0),
                     gr::io_signature::make(checked_nchan(hub, nchan),
                                            nchan,
                                            sizeof(gr_complex))),
      d_hub(hub),
      d_node(node),
      d_nsamples(nsamples),
      d_timeout_ms(timeout_ms),
      d_out(nchan, nullptr),
      d_rx_time_key(pmt::intern("rx_time")),
      d_rx_rate_key(pmt::intern("rx_rate")),
      d_rx_freq_key(pmt::intern("rx_freq")),
      d_id(pmt::intern(alias()))
{
    if (timeout_ms < 1 || timeout_ms > 10000)
        throw std::invalid_argument("virtual_radio_source_c: timeout_ms must be in 1..10000, got " +
                                    std::to_string(timeout_ms));
    d_hub->attach_source(node, nchan); // validates node and channel count
    // A radio-sized output buffer: each call then hands over up to this many
    // samples, and the threads of a many-node flowgraph, which share few
    // cores, switch several times less often than with the default (about
    // 8192 items). A min output buffer set later (GRC's advanced tab) wins.
    for (int k = 0; k < nchan; k++)
        set_min_output_buffer(k, default_output_buffer);
}

virtual_radio_source_c_impl::~virtual_radio_source_c_impl() { d_hub->detach_source(d_node); }

bool virtual_radio_source_c_impl::stop()
{
    d_hub->finish_rx(d_node);
    return true;
}

int virtual_radio_source_c_impl::work(int noutput_items,
                                      gr_vector_const_void_star&,
                                      gr_vector_void_star& output_items)
{
    uint64_t n = static_cast<uint64_t>(noutput_items);
    if (d_nsamples > 0) {
        const uint64_t left = d_nsamples - d_produced;
        if (left == 0)
            return WORK_DONE;
        n = std::min(n, left);
    }
    for (size_t k = 0; k < d_out.size(); k++)
        d_out[k] = static_cast<gr_complex*>(output_items[k]);
    if (nitems_written(0) == 0 && d_produced == 0) {
        const pmt::pmt_t t = pmt::make_tuple(pmt::from_uint64(0), pmt::from_double(0.0));
        const pmt::pmt_t rate = pmt::from_double(d_hub->samp_rate());
        const pmt::pmt_t freq = pmt::from_double(d_hub->center_freq());
        for (size_t k = 0; k < d_out.size(); k++) {
            add_item_tag(k, 0, d_rx_time_key, t, d_id);
            add_item_tag(k, 0, d_rx_rate_key, rate, d_id);
            add_item_tag(k, 0, d_rx_freq_key, freq, d_id);
        }
    }
    size_t got = 0;
    try {
        // Wait here until samples come, in slices of d_timeout_ms, checking
        // between slices whether the flowgraph is stopping: GNU Radio 3.10 puts
        // a source whose work() returned 0 to sleep until its input timer
        // fires (250 ms; a source has no upstream to wake it), which would
        // hold a closed loop (a node waiting for a message before it
        // transmits) a quarter second on every wait longer than one slice.
        do {
            got = d_hub->read_rx(d_node, d_out, static_cast<size_t>(n), d_timeout_ms);
        } while (got == 0 && !boost::this_thread::interruption_requested());
    } catch (const std::exception& e) {
        // the hub could not start streaming (its configuration): end this
        // stream, so the flowgraph ends instead of waiting for it
        d_logger->error("node {}: {}; the receiver stops", d_node, e.what());
        return WORK_DONE;
    }
    d_produced += got;
    return static_cast<int>(got);
}

} // namespace cohere
} // namespace gr
