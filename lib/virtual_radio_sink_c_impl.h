/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_VIRTUAL_RADIO_SINK_C_IMPL_H
#define INCLUDED_COHERE_VIRTUAL_RADIO_SINK_C_IMPL_H

#include <gnuradio/cohere/virtual_radio_sink_c.h>
#include <atomic>
#include <chrono>

namespace gr {
namespace cohere {

class virtual_radio_sink_c_impl : public virtual_radio_sink_c
{
public:
    virtual_radio_sink_c_impl(channel_hub::sptr hub, int node, int nchan, int timeout_ms);
    ~virtual_radio_sink_c_impl() override;

    int node() const override { return d_node; }
    channel_hub::sptr hub() const override { return d_hub; }
    uint64_t nonfinite_count() const override { return d_nonfinite; }

    bool stop() override;
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;

private:
    const channel_hub::sptr d_hub;
    const int d_node;
    const int d_timeout_ms;
    std::vector<const gr_complex*> d_in;
    std::atomic<uint64_t> d_nonfinite{ 0 };
    std::chrono::steady_clock::time_point d_last_log;
};

} // namespace cohere
} // namespace gr

#endif
