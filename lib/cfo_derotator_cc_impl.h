/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_CFO_DEROTATOR_CC_IMPL_H
#define INCLUDED_COHERE_CFO_DEROTATOR_CC_IMPL_H

#include "kernels/nco.h"
#include "kernels/timed_queue.h"
#include "message_fields.h"
#include <gnuradio/cohere/cfo_derotator_cc.h>
#include <atomic>
#include <string>

namespace gr {
namespace cohere {

class cfo_derotator_cc_impl : public cfo_derotator_cc
{
public:
    cfo_derotator_cc_impl(double samp_rate, double cfo, bool use_tags);

    void set_cfo(double cfo) override;
    double cfo() const override { return d_cfo_now; }
    double phase() const override { return d_phase_next; }
    void set_use_tags(bool use_tags) override { d_use_tags = use_tags; }
    bool use_tags() const override { return d_use_tags; }
    double samp_rate() const override { return d_nco.samp_rate(); }
    uint64_t commands_applied() const override { return d_applied; }
    uint64_t commands_dropped() const override { return d_drops.count(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;

private:
    struct command {
        bool has_cfo;
        double cfo;
        bool has_phase;
        double phase;
        uint64_t count = 1; // commands folded into this one (immediate ones)
    };
    bool queue_immediate(const command& c);

    void handle_cmd(const pmt::pmt_t& msg);
    void drop(const std::string& reason, const pmt::pmt_t& what, bool rate_limited);
    void apply(const command& c);
    bool apply_tag(const gr::tag_t& tag);

    kernels::nco d_nco;
    kernels::timed_queue<command> d_commands;
    std::atomic<bool> d_use_tags;
    std::atomic<double> d_cfo_now, d_phase_next;
    std::atomic<uint64_t> d_applied{ 0 };
    command_drops d_drops;
    std::vector<gr::tag_t> d_tags;
    const pmt::pmt_t d_cmd_port, d_sync_peak_key, d_cfo_applied_key, d_cfo_key, d_phase_key,
        d_time_key, d_index_key, d_phase_at_key, d_id;
};

} // namespace cohere
} // namespace gr

#endif
