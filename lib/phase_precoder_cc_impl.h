/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_PHASE_PRECODER_CC_IMPL_H
#define INCLUDED_COHERE_PHASE_PRECODER_CC_IMPL_H

#include "kernels/timed_queue.h"
#include "message_fields.h"
#include <gnuradio/cohere/phase_precoder_cc.h>
#include <atomic>
#include <complex>
#include <string>

namespace gr {
namespace cohere {

class phase_precoder_cc_impl : public phase_precoder_cc
{
public:
    phase_precoder_cc_impl(double phase, gr_complex gain);

    void set_phase(double phase) override;
    void set_gain(gr_complex gain) override;
    double phase() const override { return d_phase_now; }
    gr_complex gain() const override
    {
        return gr_complex(d_gain_re_now.load(), d_gain_im_now.load());
    }
    uint64_t commands_applied() const override { return d_applied; }
    uint64_t commands_dropped() const override { return d_drops.count(); }

    int work(int noutput_items,
             gr_vector_const_void_star& input_items,
             gr_vector_void_star& output_items) override;

private:
    struct command {
        bool has_phase;
        double phase;
        bool has_gain;
        bool gain_is_real;
        std::complex<double> gain;
        uint64_t count = 1; // commands folded into this one (immediate ones)
    };

    void handle_cmd(const pmt::pmt_t& msg);
    void drop(const std::string& reason, const pmt::pmt_t& what, bool rate_limited);
    //! `phase`/`gain` of a command dict into c; empty, or why it is malformed.
    std::string parse(const pmt::pmt_t& msg, command& c) const;
    void queue(const command& c, const pmt::pmt_t& what);
    void apply(const command& c);
    void update_constant();

    kernels::timed_queue<command> d_commands; // guarded by d_setlock
    std::atomic<bool> d_queued{ false };      // d_commands may be non-empty
    double d_phase;
    std::complex<double> d_gain;
    bool d_gain_is_real;
    gr_complex d_c; // gain exp(j phase), rounded once
    std::atomic<double> d_phase_now;
    std::atomic<float> d_gain_re_now, d_gain_im_now;
    std::atomic<uint64_t> d_applied{ 0 };
    command_drops d_drops;
    const pmt::pmt_t d_cmd_port, d_phase_applied_key, d_phase_cmd_key, d_phase_key, d_gain_key,
        d_time_key, d_id;
    std::vector<gr::tag_t> d_tags; // scratch: the window's input tags
};

} // namespace cohere
} // namespace gr

#endif
