/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "burst_scheduler_cc_impl.h"
#include <gnuradio/io_signature.h>
#include <fmt/format.h>
#include <algorithm>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <stdexcept>
#include <thread>

namespace gr {
namespace cohere {

namespace {
// While stalled at a response_pending tag, work() polls the decision queue
// for at most stall_wait before returning 0, so the thread loop can deliver
// the decision (GNU Radio runs message handlers on the block's own thread,
// between work calls) and a stop request is noticed.
constexpr auto stall_poll = std::chrono::microseconds(200);
constexpr int stall_polls = 25; // 5 ms
// on-air times beyond 2^62 samples (146 years at 1 GS/s) are refused, so that
// start + length never overflows
constexpr uint64_t max_time = 1ull << 62;

bool all_finite(const std::vector<gr_complex>& x)
{
    for (const auto& v : x)
        if (!std::isfinite(v.real()) || !std::isfinite(v.imag()))
            return false;
    return true;
}

int checked_lookahead(int lookahead)
{
    if (lookahead < 1)
        throw std::invalid_argument("burst_scheduler_cc: lookahead must be >= 1, got " +
                                    std::to_string(lookahead));
    return lookahead;
}

// pending bursts and early decisions have storage reserved up front
constexpr int max_max_pending = 1 << 20;

size_t checked_max_pending(int max_pending)
{
    if (max_pending < 1 || max_pending > max_max_pending)
        throw std::invalid_argument("burst_scheduler_cc: max_pending must be in 1.." +
                                    std::to_string(max_max_pending) + ", got " +
                                    std::to_string(max_pending));
    return static_cast<size_t>(max_pending);
}
} // namespace

burst_scheduler_cc::sptr burst_scheduler_cc::make(double samp_rate,
                                                  int lookahead,
                                                  int latency,
                                                  int max_pending,
                                                  const std::vector<gr_complex>& echo_waveform,
                                                  int64_t echo_offset,
                                                  int64_t echo_preamble,
                                                  const std::string& echo_phase_mode,
                                                  double echo_phase)
{
    return gnuradio::make_block_sptr<burst_scheduler_cc_impl>(samp_rate,
                                                              lookahead,
                                                              latency,
                                                              max_pending,
                                                              echo_waveform,
                                                              echo_offset,
                                                              echo_preamble,
                                                              echo_phase_mode,
                                                              echo_phase);
}

burst_scheduler_cc_impl::burst_scheduler_cc_impl(double samp_rate,
                                                 int lookahead,
                                                 int latency,
                                                 int max_pending,
                                                 const std::vector<gr_complex>& echo_waveform,
                                                 int64_t echo_offset,
                                                 int64_t echo_preamble,
                                                 const std::string& echo_phase_mode,
                                                 double echo_phase)
    : gr::block("burst_scheduler_cc",
                gr::io_signature::make(1, 1, sizeof(gr_complex)),
                gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_fs(samp_rate),
      d_lookahead(checked_lookahead(lookahead)),
      d_latency(latency),
      d_max_pending(max_pending),
      d_queue(checked_max_pending(max_pending)),
      d_echo_preamble(echo_preamble),
      d_waiting_event(pmt::PMT_NIL),
      d_burst_port(pmt::intern("burst")),
      d_decision_port(pmt::intern("decision")),
      d_echo_port(pmt::intern("echo")),
      d_late_port(pmt::intern("late")),
      d_sync_peak_key(pmt::intern("sync_peak")),
      d_pending_key(pmt::intern("response_pending")),
      d_echo_tag_key(pmt::intern("echo")),
      d_burst_tag_key(pmt::intern("burst")),
      d_sob_key(pmt::intern("tx_sob")),
      d_eob_key(pmt::intern("tx_eob")),
      d_tx_time_key(pmt::intern("tx_time")),
      d_time_key(pmt::intern("time")),
      d_phase_key(pmt::intern("phase")),
      d_gain_key(pmt::intern("gain")),
      d_index_key(pmt::intern("index")),
      d_preamble_key(pmt::intern("preamble")),
      d_event_key(pmt::intern("event")),
      d_burst_key(pmt::intern("burst")),
      d_none_key(pmt::intern("none")),
      d_waveform_key(pmt::intern("waveform")),
      d_offset_key(pmt::intern("offset")),
      d_mode_key(pmt::intern("mode")),
      d_amp_key(pmt::intern("amp")),
      d_amp_scale_key(pmt::intern("amp_scale")),
      d_once_key(pmt::intern("once")),
      d_clear_key(pmt::intern("clear")),
      d_tx_index_key(pmt::intern("tx_index")),
      d_frontier_key(pmt::intern("frontier")),
      d_reason_key(pmt::intern("reason")),
      d_source_key(pmt::intern("source")),
      d_id(pmt::intern(alias()))
{
    if (!(samp_rate > 0) || !std::isfinite(samp_rate))
        throw std::invalid_argument("burst_scheduler_cc: samp_rate must be > 0 and finite, got " +
                                    std::to_string(samp_rate));
    if (latency < 0)
        throw std::invalid_argument("burst_scheduler_cc: latency must be >= 0, got " +
                                    std::to_string(latency));
    echo_entry initial =
        checked_echo(echo_waveform, echo_offset, echo_preamble, echo_phase_mode, echo_phase, "echo_");
    if (initial.waveform)
        d_echoes.emplace(echo_preamble, std::move(initial));

    d_edges.reserve(2 * static_cast<size_t>(max_pending) + 2);
    d_decisions.reserve(static_cast<size_t>(max_pending));
    d_tags.reserve(64);
    set_tag_propagation_policy(TPP_DONT);

    message_port_register_in(d_burst_port);
    message_port_register_in(d_decision_port);
    message_port_register_in(d_echo_port);
    message_port_register_out(d_late_port);
    set_msg_handler(d_burst_port, [this](const pmt::pmt_t& m) { handle_burst(m); });
    set_msg_handler(d_decision_port, [this](const pmt::pmt_t& m) { handle_decision(m); });
    set_msg_handler(d_echo_port, [this](const pmt::pmt_t& m) { handle_echo(m); });
}

// ---------------------------------------------------------------- echo table

bool burst_scheduler_cc_impl::parse_mode(const std::string& name, phase_mode& mode)
{
    if (name == "plus")
        mode = phase_mode::plus;
    else if (name == "minus")
        mode = phase_mode::minus;
    else if (name == "fixed")
        mode = phase_mode::fixed;
    else
        return false;
    return true;
}

std::string burst_scheduler_cc_impl::mode_name(phase_mode mode)
{
    switch (mode) {
    case phase_mode::plus:
        return "plus";
    case phase_mode::minus:
        return "minus";
    default:
        return "fixed";
    }
}

std::string burst_scheduler_cc_impl::echo_error(const echo_entry& e,
                                                const std::string& names) const
{
    if (!std::isfinite(e.phase))
        return names + "phase must be finite, got " + std::to_string(e.phase);
    if (e.time < 0) {
        const int64_t min_offset = static_cast<int64_t>(d_lookahead) + d_latency;
        if (e.waveform && e.offset < min_offset)
            return names + "offset must be >= lookahead + latency = " +
                   std::to_string(min_offset) + " (the minimum turnaround), got " +
                   std::to_string(e.offset);
        if (e.offset > static_cast<int64_t>(max_time))
            return names + "offset must be <= 2^62, got " + std::to_string(e.offset);
    } else if (e.time > static_cast<int64_t>(max_time)) {
        return "`time` must be <= 2^62, got " + std::to_string(e.time);
    }
    if (!std::isfinite(e.gain.real()) || !std::isfinite(e.gain.imag()))
        return "`gain` must be finite";
    // without amp_scale every echo's gain is gain exp(j phase) in complex
    // float, for any phase (else every sync_peak would be refused, one by
    // one, as an overflow)
    if (e.amp_scale == 0.0 && !fits_complex_float(e.gain))
        return fmt::format("`gain` must have |gain| <= {:g} (FLT_MAX) when amp_scale is 0, got "
                           "|gain| = {:g}",
                           static_cast<double>(FLT_MAX),
                           std::abs(e.gain));
    if (!(e.amp_scale >= 0) || !std::isfinite(e.amp_scale))
        return "`amp_scale` must be finite and >= 0, got " + std::to_string(e.amp_scale);
    return std::string();
}

burst_scheduler_cc_impl::echo_entry
burst_scheduler_cc_impl::checked_echo(const std::vector<gr_complex>& waveform,
                                      int64_t offset,
                                      int64_t preamble,
                                      const std::string& mode,
                                      double phase,
                                      const std::string& names) const
{
    echo_entry e;
    if (!parse_mode(mode, e.mode))
        throw std::invalid_argument(
            "burst_scheduler_cc: " + names + "phase_mode must be 'plus', 'minus' or 'fixed', got '" +
            mode + "'");
    if (preamble < -1)
        throw std::invalid_argument(
            "burst_scheduler_cc: " + names + "preamble must be >= 0, or -1 for any, got " +
            std::to_string(preamble));
    if (!all_finite(waveform))
        throw std::invalid_argument(
            "burst_scheduler_cc: " + names + "waveform must contain finite values only");
    if (!waveform.empty())
        e.waveform = std::make_shared<const std::vector<gr_complex>>(waveform);
    e.offset = offset;
    e.phase = phase;
    const std::string error = echo_error(e, names);
    if (!error.empty())
        throw std::invalid_argument("burst_scheduler_cc: " + error);
    return e;
}

void burst_scheduler_cc_impl::set_echo(const std::vector<gr_complex>& waveform,
                                       int64_t offset,
                                       int64_t preamble,
                                       const std::string& phase_mode,
                                       double phase)
{
    echo_entry e = checked_echo(waveform, offset, preamble, phase_mode, phase, "");
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    if (e.waveform)
        d_echoes[preamble] = std::move(e);
    else
        d_echoes.erase(preamble);
    d_echo_preamble = preamble;
}

void burst_scheduler_cc_impl::clear_echo(int64_t preamble)
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    d_echoes.erase(preamble);
}

std::vector<int64_t> burst_scheduler_cc_impl::echo_preambles() const
{
    std::vector<int64_t> ids;
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    ids.reserve(d_echoes.size());
    for (const auto& kv : d_echoes)
        ids.push_back(kv.first);
    return ids;
}

burst_scheduler_cc_impl::echo_entry
burst_scheduler_cc_impl::find_echo(int64_t preamble) const
{
    const auto it = d_echoes.find(preamble);
    return it == d_echoes.end() ? echo_entry() : it->second;
}

burst_scheduler_cc_impl::echo_entry
burst_scheduler_cc_impl::echo_of(int64_t preamble) const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return find_echo(preamble);
}

burst_scheduler_cc_impl::echo_entry burst_scheduler_cc_impl::default_echo() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return find_echo(d_echo_preamble);
}

namespace {
std::vector<gr_complex> samples_of(const kernels::burst_queue::samples_ptr& w)
{
    return w ? *w : std::vector<gr_complex>();
}
} // namespace

int64_t burst_scheduler_cc_impl::echo_preamble() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return d_echo_preamble;
}

std::vector<gr_complex> burst_scheduler_cc_impl::echo_waveform() const
{
    return samples_of(default_echo().waveform);
}

int64_t burst_scheduler_cc_impl::echo_offset() const { return default_echo().offset; }

std::string burst_scheduler_cc_impl::echo_phase_mode() const
{
    return mode_name(default_echo().mode);
}

double burst_scheduler_cc_impl::echo_phase() const { return default_echo().phase; }

std::vector<gr_complex> burst_scheduler_cc_impl::echo_waveform(int64_t preamble) const
{
    return samples_of(echo_of(preamble).waveform);
}

int64_t burst_scheduler_cc_impl::echo_offset(int64_t preamble) const
{
    return echo_of(preamble).offset;
}

int64_t burst_scheduler_cc_impl::echo_time(int64_t preamble) const
{
    return echo_of(preamble).time;
}

std::string burst_scheduler_cc_impl::echo_phase_mode(int64_t preamble) const
{
    return mode_name(echo_of(preamble).mode);
}

double burst_scheduler_cc_impl::echo_phase(int64_t preamble) const
{
    return echo_of(preamble).phase;
}

gr_complexd burst_scheduler_cc_impl::echo_gain(int64_t preamble) const
{
    return echo_of(preamble).gain;
}

double burst_scheduler_cc_impl::echo_amp_scale(int64_t preamble) const
{
    return echo_of(preamble).amp_scale;
}

bool burst_scheduler_cc_impl::echo_once(int64_t preamble) const
{
    return echo_of(preamble).once;
}

void burst_scheduler_cc_impl::set_tx_time_offset(uint64_t full_secs, double frac_secs)
{
    if (!(frac_secs >= 0.0 && frac_secs < 1.0))
        throw std::invalid_argument("burst_scheduler_cc: frac_secs must be in [0, 1), got " +
                                    std::to_string(frac_secs));
    gr::thread::scoped_lock lock(d_setlock);
    d_time_secs = full_secs;
    d_time_frac = frac_secs;
}

// ------------------------------------------------------------------ messages

void burst_scheduler_cc_impl::warn_malformed(const std::string& what, const pmt::pmt_t& msg)
{
    d_dropped++;
    d_logger->warn("{}: dropped: {}", what, pmt::write_string(msg));
}

bool burst_scheduler_cc_impl::parse_burst(const pmt::pmt_t& pdu,
                                          burst_spec& out,
                                          std::string& error) const
{
    if (!pmt::is_pair(pdu)) {
        error = "not a PDU (pair of meta dict and c32vector)";
        return false;
    }
    const pmt::pmt_t meta = pmt::car(pdu);
    const pmt::pmt_t data = pmt::cdr(pdu);
    if (!is_proper_dict(meta)) {
        error = "PDU meta is not a dict";
        return false;
    }
    if (!pmt::is_c32vector(data)) {
        error = "PDU samples must be a c32vector";
        return false;
    }
    if (pmt::length(data) == 0) {
        error = "PDU has no samples";
        return false;
    }
    uint64_t time = 0;
    switch (get_index(meta, d_time_key, time)) {
    case field::absent:
        error = "`time` (on-air RX sample index) missing";
        return false;
    case field::bad:
        error = "`time` must be a non-negative integer sample index";
        return false;
    default:
        break;
    }
    if (time > max_time) {
        error = "`time` out of range (> 2^62)";
        return false;
    }
    double phase = 0.0;
    if (get_real(meta, d_phase_key, phase) == field::bad) {
        error = "`phase` must be a finite real number (rad)";
        return false;
    }
    std::complex<double> gain(1.0, 0.0);
    bool real_gain = true;
    if (get_number(meta, d_gain_key, gain, real_gain) == field::bad) {
        error = "`gain` must be a finite real or complex number";
        return false;
    }
    auto samples = std::make_shared<std::vector<gr_complex>>(pmt::c32vector_elements(data));
    if (!all_finite(*samples)) {
        error = "PDU samples contain NaN or Inf";
        return false;
    }
    const std::complex<double> g = gain * std::polar(1.0, phase);
    if (!std::isfinite(static_cast<float>(g.real())) ||
        !std::isfinite(static_cast<float>(g.imag()))) {
        error = "`gain` must be a finite real or complex number";
        return false;
    }
    out.time = time;
    out.samples = std::move(samples);
    out.gain = gr_complex(g);
    return true;
}

void burst_scheduler_cc_impl::report_drop(const burst_spec& b,
                                          const label& reason,
                                          const label& source,
                                          bool late)
{
    if (late)
        d_late++;
    else
        d_dropped++;
    const uint64_t frontier = d_queue.next_index();
    const int64_t tx_index = static_cast<int64_t>(b.time) - d_latency;
    pmt::pmt_t v = pmt::make_dict();
    v = pmt::dict_add(v, d_time_key, pmt::from_uint64(b.time));
    v = pmt::dict_add(v, d_tx_index_key, pmt::from_long(tx_index));
    v = pmt::dict_add(v, d_frontier_key, pmt::from_uint64(frontier));
    v = pmt::dict_add(v, d_reason_key, reason.symbol);
    v = pmt::dict_add(v, d_source_key, source.symbol);
    message_port_pub(d_late_port, v);
    uint64_t suppressed = 0;
    if (d_drop_log.allow(suppressed))
        d_logger->warn("burst for on-air time {} (TX index {}) from {} dropped: {} (first "
                       "writable TX index {}); {} late so far, {} similar drops not logged "
                       "in the last second",
                       b.time,
                       tx_index,
                       source.text,
                       reason.text,
                       frontier,
                       d_late.load(),
                       suppressed);
}

void burst_scheduler_cc_impl::schedule(const burst_spec& b, const label& source)
{
    if (b.time < static_cast<uint64_t>(d_latency))
        return report_drop(b, d_late_reason, source, true); // before the TX stream starts
    switch (d_queue.push(b.time - static_cast<uint64_t>(d_latency), b.samples, b.gain)) {
    case kernels::burst_queue::result::accepted:
        d_scheduled++;
        break;
    case kernels::burst_queue::result::late:
        report_drop(b, d_late_reason, source, true);
        break;
    case kernels::burst_queue::result::full:
        report_drop(b, d_full_reason, source, false);
        break;
    case kernels::burst_queue::result::empty:
        d_dropped++;
        break;
    }
    d_pending = d_queue.size();
}

void burst_scheduler_cc_impl::handle_burst(const pmt::pmt_t& msg)
{
    burst_spec b;
    std::string error;
    if (!parse_burst(msg, b, error))
        return warn_malformed("burst message " + error, msg);
    gr::thread::scoped_lock lock(d_setlock);
    schedule(b, d_from_burst);
}

void burst_scheduler_cc_impl::handle_decision(const pmt::pmt_t& msg)
{
    if (!is_proper_dict(msg))
        return warn_malformed("decision message is not a dict", msg);
    const pmt::pmt_t event = pmt::dict_ref(msg, d_event_key, pmt::PMT_NIL);
    if (pmt::is_null(event))
        return warn_malformed("decision message without `event`", msg);
    decision d{ event, false, burst_spec{ 0, nullptr, gr_complex(1.0f, 0.0f) } };
    const pmt::pmt_t burst = pmt::dict_ref(msg, d_burst_key, pmt::PMT_NIL);
    const bool has_burst = pmt::dict_has_key(msg, d_burst_key);
    if (has_burst && !pmt::is_null(burst) && !pmt::eqv(burst, pmt::PMT_F)) {
        std::string error;
        d.has_burst = parse_burst(burst, d.burst, error);
        if (!d.has_burst) {
            d_dropped++;
            d_logger->warn("decision for event {}: burst {}: treated as `none`",
                           pmt::write_string(event),
                           error);
        }
    } else if (!has_burst && !pmt::dict_has_key(msg, d_none_key)) {
        return warn_malformed("decision message needs `burst` or `none`", msg);
    }

    gr::thread::scoped_lock lock(d_setlock);
    for (const auto& x : d_decisions) {
        if (pmt::equal(x.event, event)) {
            d_dropped++;
            d_logger->warn("second decision for event {} dropped (the first is kept)",
                           pmt::write_string(event));
            return;
        }
    }
    if (d_decisions.size() >= static_cast<size_t>(d_max_pending)) {
        d_dropped++;
        d_logger->warn("{} decisions wait for their response_pending tag: the oldest (event "
                       "{}) is dropped",
                       d_decisions.size(),
                       pmt::write_string(d_decisions.front().event));
        d_decisions.erase(d_decisions.begin());
    }
    d_decisions.push_back(std::move(d));
}

void burst_scheduler_cc_impl::handle_echo(const pmt::pmt_t& msg)
{
    if (!is_proper_dict(msg))
        return warn_malformed("echo message is not a dict", msg);
    int64_t preamble = -1;
    const field fpre = get_integer(msg, d_preamble_key, preamble);
    if (fpre == field::bad || (fpre == field::ok && preamble < -1))
        return warn_malformed("echo message: `preamble` must be an integer >= -1", msg);

    if (pmt::dict_has_key(msg, d_clear_key)) {
        size_t removed = 0;
        {
            std::lock_guard<std::mutex> lock(d_echo_mutex);
            if (fpre == field::absent)
                preamble = d_echo_preamble;
            removed = d_echoes.erase(preamble);
        }
        d_debug_logger->debug("echo message: entry of preamble {} {}",
                              preamble,
                              removed ? "removed" : "did not exist");
        return;
    }

    // Every field present is checked before the table is touched.
    pmt::pmt_t w;
    const bool has_waveform = dict_field(msg, d_waveform_key, w);
    samples_ptr waveform; // stays null for an empty waveform (removes the entry)
    if (has_waveform) {
        if (!pmt::is_c32vector(w))
            return warn_malformed("echo message: `waveform` must be a c32vector", msg);
        std::vector<gr_complex> x = pmt::c32vector_elements(w);
        if (!all_finite(x))
            return warn_malformed("echo message: `waveform` must be finite", msg);
        if (!x.empty())
            waveform = std::make_shared<const std::vector<gr_complex>>(std::move(x));
    }
    int64_t offset = 0;
    const field foffset = get_integer(msg, d_offset_key, offset);
    if (foffset == field::bad)
        return warn_malformed("echo message: `offset` must be an integer", msg);
    uint64_t time = 0;
    const field ftime = get_index(msg, d_time_key, time);
    if (ftime == field::bad)
        return warn_malformed(
            "echo message: `time` must be a non-negative integer sample index", msg);
    if (foffset == field::ok && ftime == field::ok)
        return warn_malformed("echo message: `offset` (relative) and `time` (absolute) "
                              "exclude each other",
                              msg);
    if (ftime == field::ok && time > max_time)
        return warn_malformed("echo message: `time` out of range (> 2^62)", msg);
    double phase = 0.0;
    const field fphase = get_real(msg, d_phase_key, phase);
    if (fphase == field::bad)
        return warn_malformed("echo message: `phase` must be a finite real number", msg);
    phase_mode mode = phase_mode::plus;
    pmt::pmt_t m;
    const bool has_mode = dict_field(msg, d_mode_key, m);
    if (has_mode && (!pmt::is_symbol(m) || !parse_mode(pmt::symbol_to_string(m), mode)))
        return warn_malformed(
            "echo message: `mode` (echo_phase_mode) must be plus, minus or fixed", msg);
    gr_complexd gain(1.0, 0.0);
    bool real_gain = true;
    const field fgain = get_number(msg, d_gain_key, gain, real_gain);
    if (fgain == field::bad)
        return warn_malformed(
            "echo message: `gain` must be a finite real or complex number", msg);
    double amp_scale = 0.0;
    const field fscale = get_real(msg, d_amp_scale_key, amp_scale);
    if (fscale == field::bad || amp_scale < 0)
        return warn_malformed(
            "echo message: `amp_scale` must be a finite real number >= 0", msg);
    pmt::pmt_t once;
    const bool has_once = dict_field(msg, d_once_key, once);
    if (has_once && !pmt::is_bool(once))
        return warn_malformed("echo message: `once` must be a bool", msg);

    std::string error;
    {
        std::lock_guard<std::mutex> lock(d_echo_mutex);
        if (fpre == field::absent)
            preamble = d_echo_preamble;
        echo_entry e = find_echo(preamble);
        if (has_waveform)
            e.waveform = waveform;
        if (foffset == field::ok) {
            e.offset = offset;
            e.time = -1;
        }
        if (ftime == field::ok) {
            e.time = static_cast<int64_t>(time);
            e.offset = 0;
        }
        if (has_mode)
            e.mode = mode;
        if (fphase == field::ok)
            e.phase = phase;
        if (fgain == field::ok)
            e.gain = gain;
        if (fscale == field::ok)
            e.amp_scale = amp_scale;
        if (has_once)
            e.once = pmt::to_bool(once);
        if (has_waveform && !waveform) {
            d_echoes.erase(preamble); // an empty waveform removes the entry
        } else if (!e.waveform) {
            error = "no entry for this preamble and no `waveform`";
        } else {
            error = echo_error(e, "");
            if (error.empty())
                d_echoes[preamble] = std::move(e);
        }
    }
    if (!error.empty())
        warn_malformed(
            "echo message for preamble " + std::to_string(preamble) + ": " + error, msg);
}

// --------------------------------------------------------------------- tags

void burst_scheduler_cc_impl::handle_peak(const gr::tag_t& tag)
{
    // The tag's fields are read before the table is locked; which of them
    // are needed depends on the entry it triggers.
    const bool dict = is_proper_dict(tag.value);
    int64_t preamble = -1;
    double index = 0, phase = 0, amp = 0;
    const field fpre = dict ? get_integer(tag.value, d_preamble_key, preamble) : field::absent;
    const bool has_preamble = fpre == field::ok;
    const bool index_ok = dict && get_real(tag.value, d_index_key, index) == field::ok &&
                          index >= 0 && index <= static_cast<double>(max_time);
    const bool phase_ok = dict && get_real(tag.value, d_phase_key, phase) == field::ok;
    const bool amp_ok = dict && get_real(tag.value, d_amp_key, amp) == field::ok;

    const char* problem = nullptr;
    burst_spec b{ 0, nullptr, gr_complex(1.0f, 0.0f) };
    {
        std::lock_guard<std::mutex> lock(d_echo_mutex);
        if (d_echoes.empty())
            return;
        if (!dict) {
            problem = " is not a dict";
        } else if (fpre == field::bad) {
            // never the fallback entry instead: the tag names some preamble
            problem = ": `preamble` must be an integer id";
        } else {
            auto it = has_preamble ? d_echoes.find(preamble) : d_echoes.end();
            if (it == d_echoes.end())
                it = d_echoes.find(-1);
            if (it == d_echoes.end())
                return; // no entry for this preamble
            const echo_entry& e = it->second;
            if (!index_ok) {
                problem = ": `index` must be a finite non-negative number";
            } else if (e.mode != phase_mode::fixed && !phase_ok) {
                problem = ": `phase` must be a finite number (echo mode plus or minus)";
            } else if (e.amp_scale > 0 && !amp_ok) {
                problem = ": `amp` must be a finite number (echo with amp_scale > 0)";
            } else {
                const double rot = e.mode == phase_mode::plus    ? phase
                                   : e.mode == phase_mode::minus ? -phase
                                                                 : e.phase;
                gr_complexd g = e.gain * std::polar(1.0, rot);
                if (e.amp_scale > 0)
                    g *= e.amp_scale * amp;
                b.gain = gr_complex(static_cast<float>(g.real()),
                                    static_cast<float>(g.imag()));
                if (!std::isfinite(b.gain.real()) || !std::isfinite(b.gain.imag())) {
                    problem = ": the echo's gain times amp_scale * `amp` overflows";
                } else {
                    // index, offset and time are <= 2^62: the sum cannot overflow
                    b.time = e.time >= 0 ? static_cast<uint64_t>(e.time)
                                         : static_cast<uint64_t>(std::llround(index)) +
                                               static_cast<uint64_t>(e.offset);
                    b.samples = e.waveform; // shared: no copy of the samples
                    if (e.once)
                        d_echoes.erase(it);
                }
            }
        }
    }
    if (problem)
        return warn_malformed("sync_peak tag at " + std::to_string(tag.offset) + problem,
                              tag.value);
    schedule(b, d_from_echo);
}

bool burst_scheduler_cc_impl::resolve_pending(const gr::tag_t& tag)
{
    const pmt::pmt_t event = is_proper_dict(tag.value)
                                 ? pmt::dict_ref(tag.value, d_event_key, pmt::PMT_NIL)
                                 : pmt::PMT_NIL;
    if (pmt::is_null(event)) {
        warn_malformed("response_pending tag at " + std::to_string(tag.offset) +
                           " without a dict `event`: not waited for",
                       tag.value);
        return true;
    }
    for (auto it = d_decisions.begin(); it != d_decisions.end(); ++it) {
        if (!pmt::equal(it->event, event))
            continue;
        if (it->has_burst)
            schedule(it->burst, d_from_decision);
        d_decisions.erase(it);
        d_waiting_event = pmt::PMT_NIL;
        return true;
    }
    if (!pmt::equal(d_waiting_event, event)) {
        d_waiting_event = event;
        d_debug_logger->debug("RX index {}: waiting for the decision of event {}",
                              tag.offset,
                              pmt::write_string(event));
    }
    return false;
}

// --------------------------------------------------------------------- work

pmt::pmt_t burst_scheduler_cc_impl::tx_time(uint64_t index) const
{
    const long double t = static_cast<long double>(index) / static_cast<long double>(d_fs);
    long double secs = std::floor(t);
    long double frac = (t - secs) + static_cast<long double>(d_time_frac);
    const long double carry = std::floor(frac);
    secs += carry;
    frac -= carry;
    return pmt::make_tuple(pmt::from_uint64(static_cast<uint64_t>(secs) + d_time_secs),
                           pmt::from_double(static_cast<double>(frac)));
}

void burst_scheduler_cc_impl::emit(gr_complex* out, size_t n)
{
    d_queue.mix(out, n, d_edges);
    for (const auto& e : d_edges) {
        if (e.start) {
            add_item_tag(0, e.index, d_sob_key, pmt::PMT_T, d_id);
            add_item_tag(0, e.index, d_tx_time_key, tx_time(e.index), d_id);
        } else {
            add_item_tag(0, e.index, d_eob_key, pmt::PMT_T, d_id);
        }
    }
    d_edges.clear();
    d_pending = d_queue.size();
}

void burst_scheduler_cc_impl::forecast(int noutput_items, gr_vector_int& ninput_items_required)
{
    // the first D TX samples need no RX; afterwards one for one
    ninput_items_required[0] =
        nitems_written(0) < static_cast<uint64_t>(d_lookahead) ? 0 : noutput_items;
}

int burst_scheduler_cc_impl::general_work(int noutput_items,
                                          gr_vector_int& ninput_items,
                                          gr_vector_const_void_star&,
                                          gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock lock(d_setlock);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);
    const uint64_t written = nitems_written(0);
    const uint64_t lookahead = static_cast<uint64_t>(d_lookahead);
    if (written < lookahead) {
        const size_t n = std::min<uint64_t>(noutput_items, lookahead - written);
        emit(out, n);
        return static_cast<int>(n);
    }

    const uint64_t r0 = nitems_read(0); // == written - D
    const uint64_t r1 = r0 + static_cast<uint64_t>(std::min(noutput_items, ninput_items[0]));
    get_tags_in_range(d_tags, 0, r0, r1);
    // stream order; at one RX index the echo table edits come first
    std::stable_sort(d_tags.begin(), d_tags.end(), [this](const gr::tag_t& a, const gr::tag_t& b) {
        if (a.offset != b.offset)
            return a.offset < b.offset;
        return pmt::eqv(a.key, d_echo_tag_key) && !pmt::eqv(b.key, d_echo_tag_key);
    });

    uint64_t pos = r0;
    uint64_t same_offset = UINT64_MAX;
    size_t same_index = 0;
    bool stall = false;
    for (const auto& tag : d_tags) {
        const bool peak = pmt::eqv(tag.key, d_sync_peak_key);
        const bool echo = pmt::eqv(tag.key, d_echo_tag_key);
        const bool burst = pmt::eqv(tag.key, d_burst_tag_key);
        if (!peak && !echo && !burst && !pmt::eqv(tag.key, d_pending_key))
            continue;
        if (tag.offset != same_offset) {
            same_offset = tag.offset;
            same_index = 0;
        }
        const size_t index = same_index++;
        if (tag.offset == d_resume_offset && index < d_resume_done)
            continue; // handled before a stall at this RX index
        if (tag.offset > pos) {
            emit(out + (pos - r0), tag.offset - pos); // TX up to tag.offset + D - 1
            pos = tag.offset;
        }
        if (echo) {
            handle_echo(tag.value);
        } else if (burst) {
            burst_spec b;
            std::string error;
            if (parse_burst(tag.value, b, error))
                schedule(b, d_from_burst); // d_setlock is held, as schedule() needs
            else
                warn_malformed("burst tag at " + std::to_string(tag.offset) + ": " + error,
                               tag.value);
        } else if (peak) {
            handle_peak(tag);
        } else if (!resolve_pending(tag)) {
            stall = true;
            break;
        }
        d_resume_offset = tag.offset;
        d_resume_done = index + 1;
    }
    if (!stall && r1 > pos) {
        emit(out + (pos - r0), r1 - pos);
        pos = r1;
    }
    d_stalled = stall;
    const int produced = static_cast<int>(pos - r0);
    consume_each(produced);
    if (stall && produced == 0) {
        lock.unlock();
        for (int i = 0; i < stall_polls && empty_p(d_decision_port); i++)
            std::this_thread::sleep_for(stall_poll);
    }
    return produced;
}

} // namespace cohere
} // namespace gr
