/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "cfo_derotator_cc_impl.h"
#include <gnuradio/io_signature.h>
#include <fmt/format.h>
#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace gr {
namespace cohere {

namespace {
constexpr size_t max_pending_commands = 1024;

double checked_samp_rate(double samp_rate)
{
    if (!(samp_rate > 0) || !std::isfinite(samp_rate))
        throw std::invalid_argument("cfo_derotator_cc: samp_rate must be > 0 and finite, got " +
                                    std::to_string(samp_rate));
    return samp_rate;
}

// the NCO needs a finite 2 pi cfo / samp_rate (|cfo| beyond samp_rate / 2 aliases)
bool usable_cfo(double cfo, double samp_rate)
{
    return std::isfinite(cfo) && std::isfinite(2.0 * M_PI * cfo / samp_rate);
}

double checked_cfo(double cfo, double samp_rate)
{
    checked_samp_rate(samp_rate); // argument evaluation order is unspecified
    if (!std::isfinite(cfo))
        throw std::invalid_argument(fmt::format("cfo_derotator_cc: cfo must be finite, got {}", cfo));
    if (!usable_cfo(cfo, samp_rate))
        throw std::invalid_argument(
            fmt::format("cfo_derotator_cc: cfo {} Hz at samp_rate {} Hz: the phase step 2 pi "
                        "cfo / samp_rate overflows (|cfo| beyond samp_rate / 2 aliases anyway)",
                        cfo,
                        samp_rate));
    return cfo;
}
} // namespace

cfo_derotator_cc::sptr cfo_derotator_cc::make(double samp_rate, double cfo, bool use_tags)
{
    return gnuradio::make_block_sptr<cfo_derotator_cc_impl>(samp_rate, cfo, use_tags);
}

cfo_derotator_cc_impl::cfo_derotator_cc_impl(double samp_rate, double cfo, bool use_tags)
    : gr::sync_block("cfo_derotator_cc",
                     gr::io_signature::make(1, 1, sizeof(gr_complex)),
                     gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_nco(checked_samp_rate(samp_rate), checked_cfo(cfo, samp_rate), 0.0),
      d_commands(max_pending_commands),
      d_use_tags(use_tags),
      d_cfo_now(cfo),
      d_phase_next(0.0),
      d_cmd_port(pmt::intern("cmd")),
      d_sync_peak_key(pmt::intern("sync_peak")),
      d_cfo_applied_key(pmt::intern("cfo_applied")),
      d_cfo_key(pmt::intern("cfo")),
      d_phase_key(pmt::intern("phase")),
      d_time_key(pmt::intern("time")),
      d_index_key(pmt::intern("index")),
      d_phase_at_key(pmt::intern("phase_at")),
      d_id(pmt::intern(alias()))
{
    d_tags.reserve(64);
    message_port_register_in(d_cmd_port);
    set_msg_handler(d_cmd_port, [this](const pmt::pmt_t& msg) { handle_cmd(msg); });
}

void cfo_derotator_cc_impl::set_cfo(double cfo)
{
    checked_cfo(cfo, d_nco.samp_rate());
    gr::thread::scoped_lock lock(d_setlock);
    if (!queue_immediate(command{ true, cfo, false, 0.0 }))
        drop("command queue full (" + std::to_string(d_commands.capacity()) + " pending)",
             pmt::from_double(cfo),
             true);
}

bool cfo_derotator_cc_impl::queue_immediate(const command& c)
{
    // immediate commands all apply at the next sample processed: a later one
    // overwrites the fields it carries (the NCO ends in the same state as
    // after both: set_phase and set_frequency at one sample commute)
    return d_commands.push_immediate(c, [](command& last, const command& next) {
        if (next.has_cfo) {
            last.has_cfo = true;
            last.cfo = next.cfo;
        }
        if (next.has_phase) {
            last.has_phase = true;
            last.phase = next.phase;
        }
        last.count += next.count;
    });
}

void cfo_derotator_cc_impl::drop(const std::string& reason,
                                 const pmt::pmt_t& what,
                                 bool rate_limited)
{
    d_drops.drop(d_logger, reason, what, rate_limited);
}

void cfo_derotator_cc_impl::handle_cmd(const pmt::pmt_t& msg)
{
    if (!is_proper_dict(msg))
        return drop("not a dict", msg, false);
    command c{ false, 0.0, false, 0.0 };
    const field fc = get_real(msg, d_cfo_key, c.cfo);
    const field fp = get_real(msg, d_phase_key, c.phase);
    if (fc == field::bad || (fc == field::ok && !usable_cfo(c.cfo, d_nco.samp_rate())))
        return drop("`cfo` must be a finite real number (Hz)", msg, false);
    if (fp == field::bad)
        return drop("`phase` must be a finite real number (rad)", msg, false);
    if (fc == field::absent && fp == field::absent)
        return drop("needs `cfo` and/or `phase`", msg, false);
    c.has_cfo = fc == field::ok;
    c.has_phase = fp == field::ok;
    uint64_t time = 0;
    const field ft = get_index(msg, d_time_key, time);
    if (ft == field::bad)
        return drop("`time` must be a non-negative integer sample index", msg, false);

    gr::thread::scoped_lock lock(d_setlock);
    bool queued;
    if (ft == field::ok) {
        const uint64_t next = detail() ? nitems_read(0) : 0;
        if (time < next)
            return drop("time " + std::to_string(time) + " is in the past (next sample " +
                            std::to_string(next) + ")",
                        msg,
                        true);
        queued = d_commands.push(time, c);
    } else {
        queued = queue_immediate(c);
    }
    if (!queued)
        drop("command queue full (" + std::to_string(d_commands.capacity()) + " pending)",
             msg,
             true);
}

void cfo_derotator_cc_impl::apply(const command& c)
{
    if (c.has_cfo && c.has_phase)
        d_nco.set(c.cfo, c.phase);
    else if (c.has_cfo)
        d_nco.set_frequency(c.cfo);
    else
        d_nco.set_phase(c.phase);
    d_applied += c.count;
}

bool cfo_derotator_cc_impl::apply_tag(const gr::tag_t& tag)
{
    if (!is_proper_dict(tag.value)) {
        drop("sync_peak tag at " + std::to_string(tag.offset) + " is not a dict", tag.value, true);
        return false;
    }
    double cfo = 0, phase = 0, index = 0, phase_at = 0;
    const field fc = get_real(tag.value, d_cfo_key, cfo);
    const field fp = get_real(tag.value, d_phase_key, phase);
    const field fi = get_real(tag.value, d_index_key, index);
    const field fa = get_real(tag.value, d_phase_at_key, phase_at);
    if (fc == field::bad || fp == field::bad || fi == field::bad || fa == field::bad) {
        drop("sync_peak tag at " + std::to_string(tag.offset) +
                 ": cfo/phase/index/phase_at must be finite real numbers",
             tag.value,
             true);
        return false;
    }
    // the sample where `phase` holds: `phase_at` when given (the detector's
    // aperiodic preambles: their energy centroid), else `index`
    const field fref = fa == field::ok ? fa : fi;
    const double ref = fa == field::ok ? phase_at : index;
    if (fc == field::absent && fp == field::absent)
        return false; // a peak without a frequency or phase estimate: nothing to apply
    const double f = fc == field::ok ? cfo : d_nco.frequency();
    double theta = phase;
    if (fp == field::ok && fref == field::ok)
        theta += 2.0 * M_PI * f * (static_cast<double>(tag.offset) - ref) / d_nco.samp_rate();
    if (!usable_cfo(f, d_nco.samp_rate()) || !std::isfinite(theta)) {
        drop("sync_peak tag at " + std::to_string(tag.offset) + ": cfo/phase out of range",
             tag.value,
             true);
        return false;
    }
    if (fp == field::ok) {
        d_nco.set(f, theta);
    } else {
        d_nco.set_frequency(f);
    }
    d_applied++;
    return true;
}

int cfo_derotator_cc_impl::work(int noutput_items,
                                gr_vector_const_void_star& input_items,
                                gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock lock(d_setlock);
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);
    const uint64_t start = nitems_read(0);
    const uint64_t end = start + static_cast<uint64_t>(noutput_items);
    if (d_nco.position() < start) // never for a sync block; keeps the index model exact
        d_nco.advance(start - d_nco.position());

    d_commands.drop_late(start, [&](const kernels::timed_queue<command>::entry& e) {
        drop("time " + std::to_string(e.time) + " passed before the command could be applied",
             pmt::from_uint64(e.time),
             true);
    });
    if (d_use_tags) {
        get_tags_in_range(d_tags, 0, start, end, d_sync_peak_key);
        std::stable_sort(d_tags.begin(), d_tags.end(), gr::tag_t::offset_compare);
    } else {
        d_tags.clear();
    }

    size_t ti = 0;
    uint64_t pos = start;
    uint64_t due = 0;
    while (pos < end) {
        uint64_t next = end;
        if (d_commands.next_due(pos, due))
            next = std::min(next, due);
        if (ti < d_tags.size())
            next = std::min(next, std::max<uint64_t>(d_tags[ti].offset, pos));
        if (next > pos) {
            d_nco.derotate(in + (pos - start), out + (pos - start), next - pos);
            pos = next;
            continue;
        }
        // everything that applies at sample pos, then one tag describing the result
        bool changed = false;
        while (d_commands.next_due(pos, due) && due == pos) {
            apply(d_commands.pop());
            changed = true;
        }
        while (ti < d_tags.size() && d_tags[ti].offset <= pos) {
            changed = apply_tag(d_tags[ti]) || changed;
            ti++;
        }
        if (changed) {
            pmt::pmt_t v = pmt::make_dict();
            v = pmt::dict_add(v, d_cfo_key, pmt::from_double(d_nco.frequency()));
            v = pmt::dict_add(v, d_phase_key, pmt::from_double(d_nco.phase()));
            v = pmt::dict_add(v, d_time_key, pmt::from_uint64(pos));
            add_item_tag(0, pos, d_cfo_applied_key, v, d_id);
        }
        // nothing else is due at pos now: the next pass derotates from pos on
    }
    d_cfo_now = d_nco.frequency();
    d_phase_next = d_nco.phase();
    return noutput_items;
}

} // namespace cohere
} // namespace gr
