/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_OFDM_PILOT_ESTIMATOR_IMPL_H
#define INCLUDED_COHERE_OFDM_PILOT_ESTIMATOR_IMPL_H

#include "kernels/ofdm_pilots.h"
#include <gnuradio/cohere/ofdm_pilot_estimator.h>
#include <atomic>
#include <chrono>
#include <deque>

namespace gr {
namespace cohere {

class ofdm_pilot_estimator_impl : public ofdm_pilot_estimator
{
public:
    ofdm_pilot_estimator_impl(int fft_len,
                              int cp_len,
                              const std::vector<int>& carrier_map,
                              const std::vector<gr_complex>& pilot_values,
                              int num_symbols,
                              int start_offset,
                              const std::string& tag_key,
                              bool equalize);

    uint64_t symbols_posted() const override { return d_posted; }
    uint64_t symbols_dropped() const override { return d_dropped; }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;

private:
    void collect_frame_starts(uint64_t start, uint64_t end);
    void finish_symbol();

    kernels::ofdm_pilots d_kernel;
    const int d_num_symbols;
    const int d_start_offset;
    const size_t d_lookback; // samples before the window a frame may start (history)
    const bool d_equalize;
    const pmt::pmt_t d_tag_key, d_port, d_index_key, d_time_key, d_frame_key, d_symbol_key,
        d_phase_key, d_amp_key, d_pilots_key;

    std::deque<uint64_t> d_pending; // accepted frame starts (first symbol CP start), sorted
    uint64_t d_accepted_start = 0;  // start of the last accepted frame: frames are cut in order
    uint64_t d_accepted_end = 0;    // end of the last accepted frame: a start before it overlaps
    bool d_active = false;
    uint64_t d_frame_start = 0;
    int d_symbol = 0;
    size_t d_fill = 0;
    std::vector<gr_complex> d_symbol_buf, d_pilot_ls, d_data_raw, d_data_eq;
    std::vector<gr::tag_t> d_tags;
    std::atomic<uint64_t> d_posted{ 0 }, d_dropped{ 0 };
    std::chrono::steady_clock::time_point d_last_warning;
};

} // namespace cohere
} // namespace gr

#endif
