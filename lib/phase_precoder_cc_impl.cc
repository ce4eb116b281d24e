/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "phase_precoder_cc_impl.h"
#include <gnuradio/io_signature.h>
#include <fmt/format.h>
#include <volk/volk.h>
#include "kernels/vector_ops.h"
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace cohere {

namespace {
constexpr size_t max_pending_commands = 1024;

std::string complex_str(gr_complex g) { return fmt::format("({:.9g}, {:.9g})", g.real(), g.imag()); }

// the multiplier g exp(j phase) is complex float (fits_complex_float)
const char* gain_rule = "with |gain| <= 3.4e38 (FLT_MAX: gain exp(j phase) is complex float)";

// the constructor's and the setters' arguments
double checked_phase(double phase)
{
    if (!std::isfinite(phase))
        throw std::invalid_argument("phase_precoder_cc: phase must be finite, got " +
                                    std::to_string(phase));
    return phase;
}

gr_complex checked_gain(gr_complex gain)
{
    if (!fits_complex_float(gain))
        throw std::invalid_argument(std::string("phase_precoder_cc: gain must be finite ") + gain_rule +
                                    ", got " + complex_str(gain));
    return gain;
}
} // namespace

phase_precoder_cc::sptr phase_precoder_cc::make(double phase, gr_complex gain)
{
    return gnuradio::make_block_sptr<phase_precoder_cc_impl>(phase, gain);
}

phase_precoder_cc_impl::phase_precoder_cc_impl(double phase, gr_complex gain)
    : gr::sync_block("phase_precoder_cc",
                     gr::io_signature::make(1, 1, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_commands(max_pending_commands),
      d_phase(checked_phase(phase)),
      d_gain(checked_gain(gain)),
      d_gain_is_real(gain.imag() == 0.0f),
      d_cmd_port(pmt::intern("cmd")),
      d_phase_applied_key(pmt::intern("phase_applied")),
      d_phase_cmd_key(pmt::intern("phase_cmd")),
      d_phase_key(pmt::intern("phase")),
      d_gain_key(pmt::intern("gain")),
      d_time_key(pmt::intern("time")),
      d_id(pmt::intern(alias()))
{
    update_constant();
    // whole SIMD vectors per call where the scheduler can (as
    // blocks.multiply_const_cc): fewer, aligned calls
    set_alignment(std::max(1, static_cast<int>(volk_get_alignment() / sizeof(gr_complex))));
    // work() reads the input's tags once per call (for `phase_cmd`) and, by
    // default (TPP_CUSTOM), propagates them itself as all-to-all would: the
    // scheduler would look them up a second time, under the buffer's lock.
    // A policy set by the user (DONT, ALL_TO_ALL...) is the scheduler's.
    set_tag_propagation_policy(TPP_CUSTOM);
    message_port_register_in(d_cmd_port);
    set_msg_handler(d_cmd_port, [this](const pmt::pmt_t& msg) { handle_cmd(msg); });
}

void phase_precoder_cc_impl::update_constant()
{
    const std::complex<double> c = d_gain * std::polar(1.0, d_phase);
    d_c = gr_complex(c);
    d_phase_now = d_phase;
    d_gain_re_now = static_cast<float>(d_gain.real());
    d_gain_im_now = static_cast<float>(d_gain.imag());
}

void phase_precoder_cc_impl::set_phase(double phase)
{
    checked_phase(phase);
    gr::thread::scoped_lock lock(d_setlock);
    queue(command{ true, phase, false, true, 0.0 }, pmt::from_double(phase));
}

void phase_precoder_cc_impl::set_gain(gr_complex gain)
{
    checked_gain(gain);
    gr::thread::scoped_lock lock(d_setlock);
    queue(command{ false,
                   0.0,
                   true,
                   gain.imag() == 0.0f,
                   std::complex<double>(gain.real(), gain.imag()) },
          pmt::from_complex(gain));
}

void phase_precoder_cc_impl::queue(const command& c, const pmt::pmt_t& what)
{
    // immediate commands all apply at the next sample processed: a later one
    // overwrites the fields it carries (the same result as applying both)
    const auto fold = [](command& last, const command& next) {
        if (next.has_phase) {
            last.has_phase = true;
            last.phase = next.phase;
        }
        if (next.has_gain) {
            last.has_gain = true;
            last.gain = next.gain;
            last.gain_is_real = next.gain_is_real;
        }
        last.count += next.count;
    };
    if (!d_commands.push_immediate(c, fold))
        drop("command queue full (" + std::to_string(d_commands.capacity()) + " pending)",
             what,
             true);
    d_queued.store(true, std::memory_order_release);
}

void phase_precoder_cc_impl::drop(const std::string& reason,
                                  const pmt::pmt_t& what,
                                  bool rate_limited)
{
    d_drops.drop(d_logger, reason, what, rate_limited);
}

std::string phase_precoder_cc_impl::parse(const pmt::pmt_t& msg, command& c) const
{
    if (!is_proper_dict(msg))
        return "not a dict";
    c = command{ false, 0.0, false, true, 0.0 };
    const field fp = get_real(msg, d_phase_key, c.phase);
    const field fg = get_number(msg, d_gain_key, c.gain, c.gain_is_real);
    if (fp == field::bad)
        return "`phase` must be a finite real number (rad)";
    if (fg == field::bad || (fg == field::ok && !fits_complex_float(c.gain)))
        return std::string("`gain` must be a finite real or complex number ") + gain_rule;
    if (fp == field::absent && fg == field::absent)
        return "needs `phase` and/or `gain`";
    c.has_phase = fp == field::ok;
    c.has_gain = fg == field::ok;
    return "";
}

void phase_precoder_cc_impl::handle_cmd(const pmt::pmt_t& msg)
{
    command c;
    const std::string why = parse(msg, c);
    if (!why.empty())
        return drop(why, msg, false);
    uint64_t time = 0;
    const field ft = get_index(msg, d_time_key, time);
    if (ft == field::bad)
        return drop("`time` must be a non-negative integer sample index", msg, false);

    gr::thread::scoped_lock lock(d_setlock);
    if (ft == field::absent)
        return queue(c, msg);
    const uint64_t next = detail() ? nitems_read(0) : 0;
    if (time < next)
        return drop("time " + std::to_string(time) + " is in the past (next sample " +
                        std::to_string(next) + ")",
                    msg,
                    true);
    if (!d_commands.push(time, c))
        drop("command queue full (" + std::to_string(d_commands.capacity()) + " pending)",
             msg,
             true);
    d_queued.store(true, std::memory_order_release);
}

void phase_precoder_cc_impl::apply(const command& c)
{
    if (c.has_phase)
        d_phase = c.phase;
    if (c.has_gain) {
        d_gain = c.gain;
        d_gain_is_real = c.gain_is_real;
    }
    update_constant();
    d_applied += c.count;
}

int phase_precoder_cc_impl::work(int noutput_items,
                                 gr_vector_const_void_star& input_items,
                                 gr_vector_void_star& output_items)
{
    // The command queue is shared with the message handler and the setters
    // (d_setlock); with nothing queued (d_queued false: the usual case) work
    // neither locks nor reads it. In GNU Radio's scheduler a message is
    // handled in this block's thread between calls, so a timed command is
    // always seen by the next call; a setter's command from another thread
    // is immediate and applies at the next call either way.
    std::unique_lock<gr::thread::mutex> lock(d_setlock, std::defer_lock);
    if (d_queued.load(std::memory_order_acquire))
        lock.lock();
    const bool queued = lock.owns_lock();
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);
    const uint64_t start = nitems_read(0);
    const uint64_t end = start + static_cast<uint64_t>(noutput_items);

    if (queued)
        d_commands.drop_late(start, [&](const kernels::timed_queue<command>::entry& e) {
            drop("time " + std::to_string(e.time) +
                     " passed before the command could be applied",
                 pmt::from_uint64(e.time),
                 true);
        });
    // commands carried by `phase_cmd` tags: in band, so never late, and
    // applied straight from the tags (never through the bounded message
    // queue, so any number of them per call is the same); with TPP_CUSTOM
    // every tag of the window, to propagate them below
    const bool propagate = tag_propagation_policy() == TPP_CUSTOM;
    if (propagate)
        get_tags_in_window(d_tags, 0, 0, static_cast<uint64_t>(noutput_items));
    else
        get_tags_in_window(d_tags, 0, 0, static_cast<uint64_t>(noutput_items), d_phase_cmd_key);
    std::stable_sort(d_tags.begin(), d_tags.end(), gr::tag_t::offset_compare);

    size_t ti = 0;
    uint64_t pos = start;
    uint64_t due = 0;
    while (pos < end) {
        while (ti < d_tags.size() && !pmt::eq(d_tags[ti].key, d_phase_cmd_key))
            ti++;
        uint64_t next = end;
        if (queued && d_commands.next_due(pos, due))
            next = std::min(next, due);
        if (ti < d_tags.size())
            next = std::min(next, std::max<uint64_t>(d_tags[ti].offset, pos));
        if (next > pos) {
            // element-wise without fused multiply-add: the output does not
            // depend on how the scheduler cuts the stream (a SIMD kernel with
            // a scalar tail would round the tail differently)
            kernels::cscale(out + (pos - start), in + (pos - start), d_c, next - pos);
            pos = next;
            continue;
        }
        // messages due at pos, then the tags at pos; one tag for the result
        bool changed = false;
        while (queued && d_commands.next_due(pos, due) && due == pos) {
            apply(d_commands.pop());
            changed = true;
        }
        for (; ti < d_tags.size() && d_tags[ti].offset <= pos; ti++) {
            if (!pmt::eq(d_tags[ti].key, d_phase_cmd_key))
                continue;
            command c;
            const std::string why = parse(d_tags[ti].value, c);
            if (!why.empty()) {
                drop("phase_cmd tag at sample " + std::to_string(d_tags[ti].offset) + ": " + why,
                     d_tags[ti].value,
                     true);
                continue;
            }
            apply(c);
            changed = true;
        }
        if (!changed)
            continue;
        pmt::pmt_t v = pmt::make_dict();
        v = pmt::dict_add(v, d_phase_key, pmt::from_double(d_phase));
        v = pmt::dict_add(v,
                          d_gain_key,
                          d_gain_is_real ? pmt::from_double(d_gain.real())
                                         : pmt::from_complex(d_gain));
        v = pmt::dict_add(v, d_time_key, pmt::from_uint64(pos));
        add_item_tag(0, pos, d_phase_applied_key, v, d_id);
    }
    if (queued)
        d_queued.store(!d_commands.empty(), std::memory_order_release);
    // all-to-all (one in, one out, same offsets), after this call's own tags
    // as when the scheduler propagates after work()
    if (propagate)
        for (const gr::tag_t& t : d_tags)
            add_item_tag(0, t);
    return noutput_items;
}

} // namespace cohere
} // namespace gr
