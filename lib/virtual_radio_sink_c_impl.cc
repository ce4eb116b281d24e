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

bool all_finite(const gr_complex* x, size_t n)
{
    // A float is NaN or Inf exactly when its exponent bits are all ones; an
    // integer OR-reduction over those bits vectorizes (a float one would not).
    const uint32_t* w = reinterpret_cast<const uint32_t*>(x);
    uint32_t bad = 0;
    for (size_t k = 0; k < 2 * n; k++)
        bad |= static_cast<uint32_t>((w[k] & 0x7f800000u) == 0x7f800000u);
    return bad == 0;
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
      d_in(nchan, nullptr),
      d_clean(nchan)
{
    if (timeout_ms < 1 || timeout_ms > 10000)
        throw std::invalid_argument("virtual_radio_sink_c: timeout_ms must be in 1..10000, got " +
                                    std::to_string(timeout_ms));
    d_hub->attach_sink(node, nchan); // validates node and channel count
    for (auto& c : d_clean)
        c.resize(8192);
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
    size_t n = static_cast<size_t>(noutput_items);
    bool clean = true;
    for (size_t k = 0; k < d_in.size(); k++) {
        d_in[k] = static_cast<const gr_complex*>(input_items[k]);
        clean = clean && all_finite(d_in[k], n);
    }
    if (!clean) {
        // Rare path: replace NaN/Inf by zeros in a bounded scratch copy.
        n = std::min(n, d_clean[0].size());
        uint64_t bad = 0;
        for (size_t k = 0; k < d_in.size(); k++) {
            for (size_t i = 0; i < n; i++) {
                const gr_complex v = d_in[k][i];
                const bool ok = std::isfinite(v.real()) && std::isfinite(v.imag());
                d_clean[k][i] = ok ? v : gr_complex(0, 0);
                bad += ok ? 0 : 1;
            }
            d_in[k] = d_clean[k].data();
        }
        d_nonfinite += bad;
        const auto now = std::chrono::steady_clock::now();
        if (now - d_last_log > std::chrono::seconds(1)) {
            d_logger->warn("node {}: {} non-finite TX samples replaced by zeros so far",
                           d_node,
                           d_nonfinite.load());
            d_last_log = now;
        }
    }
    if (d_hub->receivers_done())
        return WORK_DONE; // every receiver has finished: nobody listens any more
    try {
        return static_cast<int>(d_hub->write_tx(d_node, d_in, n, d_timeout_ms));
    } catch (const std::exception& e) {
        // the hub could not start streaming (its configuration): end this
        // stream, so the flowgraph ends instead of waiting for it
        d_logger->error("node {}: {}; the transmitter stops", d_node, e.what());
        return WORK_DONE;
    }
}

} // namespace cohere
} // namespace gr
