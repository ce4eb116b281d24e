/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "virtual_radio_sink_c_impl.h"
#include <gnuradio/io_signature.h>
#include <cmath>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {

namespace {
int checked_nchan(const channel_hub::sptr& hub, int nchan)
{
    if (!hub)
        throw std::invalid_argument("virtual_radio_sink_c: hub must not be None");
    if (nchan < 1 || nchan > 8)
        throw std::invalid_argument("virtual_radio_sink_c: nchan must be in 1..8, got " +
                                    std::to_string(nchan));
    return nchan;
}

} // namespace

virtual_radio_sink_c::sptr
virtual_radio_sink_c::make(channel_hub::sptr hub, int node, int nchan, int timeout_ms)
{
    return gnuradio::make_block_sptr<virtual_radio_sink_c_impl>(hub, node, nchan, timeout_ms);
}

virtual_radio_sink_c_impl::virtual_radio_sink_c_impl(channel_hub::sptr hub,
                                                     int node,
                                                     int nchan,
                                                     int timeout_ms)
    : gr::sync_block("virtual_radio_sink_c",
                     gr::io_signature::make(checked_nchan(hub, nchan), nchan, sizeof(gr_complex)),
                     gr::io_signature::make(0, 0, 0)),
      d_hub(hub),
      d_node(node),
      d_timeout_ms(timeout_ms),
      d_in(nchan, nullptr)
{
    if (timeout_ms < 1 || timeout_ms > 10000)
        throw std::invalid_argument("virtual_radio_sink_c: timeout_ms must be in 1..10000, got " +
                                    std::to_string(timeout_ms));
    d_hub->attach_sink(node, nchan); // validates node and channel count
}

virtual_radio_sink_c_impl::~virtual_radio_sink_c_impl() { d_hub->detach_sink(d_node); }

bool virtual_radio_sink_c_impl::stop()
{
    d_hub->finish_tx(d_node);
    return true;
}

int virtual_radio_sink_c_impl::work(int noutput_items,
                                    gr_vector_const_void_star& input_items,
                                    gr_vector_void_star&)
{
    const size_t n = static_cast<size_t>(noutput_items);
    for (size_t k = 0; k < d_in.size(); k++)
        d_in[k] = static_cast<const gr_complex*>(input_items[k]);
    if (d_hub->receivers_done())
        return WORK_DONE; // every receiver has finished: nobody listens any more
    uint64_t bad = 0;
    size_t done;
    try {
        done = d_hub->write_tx(d_node, d_in, n, d_timeout_ms, bad);
    } catch (const std::exception& e) {
        // the hub could not start streaming (its configuration): end this
        // stream, so the flowgraph ends instead of waiting for it
        d_logger->error("node {}: {}; the transmitter stops", d_node, e.what());
        return WORK_DONE;
    }
    if (bad > 0) {
        // rare: the hub sent them as zeros
        d_nonfinite += bad;
        const auto now = std::chrono::steady_clock::now();
        if (now - d_last_log > std::chrono::seconds(1)) {
            d_logger->warn("node {}: {} non-finite TX samples replaced by zeros so far",
                           d_node,
                           d_nonfinite.load());
            d_last_log = now;
        }
    }
    return static_cast<int>(done);
}

} // namespace cohere
} // namespace gr
