/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_VIRTUAL_RADIO_SOURCE_C_IMPL_H
#define INCLUDED_COHERE_VIRTUAL_RADIO_SOURCE_C_IMPL_H

#include <gnuradio/cohere/virtual_radio_source_c.h>
#include <atomic>

namespace gr {
namespace cohere {

class virtual_radio_source_c_impl : public virtual_radio_source_c
{
public:
    virtual_radio_source_c_impl(channel_hub::sptr hub,
                                int node,
                                int nchan,
                                uint64_t nsamples,
                                int timeout_ms);
    ~virtual_radio_source_c_impl() override;

    int node() const override { return d_node; }
    channel_hub::sptr hub() const override { return d_hub; }
    uint64_t nproduced() const override { return d_produced; }

    bool stop() override;
    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;

private:
    const channel_hub::sptr d_hub;
    const int d_node;
    const uint64_t d_nsamples;
    const int d_timeout_ms;
    std::vector<gr_complex*> d_out;
    std::atomic<uint64_t> d_produced{ 0 };
    const pmt::pmt_t d_rx_time_key, d_rx_rate_key, d_rx_freq_key, d_id;
};

} // namespace cohere
} // namespace gr

#endif
