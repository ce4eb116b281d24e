/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "burst_scheduler_cc_impl.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
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
      d_queue(max_pending >= 1 ? static_cast<size_t>(max_pending) : 1),
      d_waiting_event(pmt::PMT_NIL),
      d_burst_port(pmt::intern("burst")),
      d_decision_port(pmt::intern("decision")),
      d_echo_port(pmt::intern("echo")),
      d_late_port(pmt::intern("late")),
      d_sync_peak_key(pmt::intern("sync_peak")),
      d_pending_key(pmt::intern("response_pending")),
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
    if (max_pending < 1)
        throw std::invalid_argument("burst_scheduler_cc: max_pending must be >= 1, got " +
                                    std::to_string(max_pending));
    d_echo =
        checked_echo(echo_waveform, echo_offset, echo_preamble, echo_phase_mode, echo_phase);

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

// ---------------------------------------------------------------- echo set-up

burst_scheduler_cc_impl::echo_config
burst_scheduler_cc_impl::checked_echo(const std::vector<gr_complex>& waveform,
                                      int64_t offset,
                                      int64_t preamble,
                                      const std::string& mode,
                                      double phase) const
{
    echo_config c;
    if (mode == "plus")
        c.mode = phase_mode::plus;
    else if (mode == "minus")
        c.mode = phase_mode::minus;
    else if (mode == "fixed")
        c.mode = phase_mode::fixed;
    else
        throw std::invalid_argument(
            "burst_scheduler_cc: echo_phase_mode must be 'plus', 'minus' or 'fixed', got '" +
            mode + "'");
    if (!std::isfinite(phase))
        throw std::invalid_argument("burst_scheduler_cc: echo_phase must be finite, got " +
                                    std::to_string(phase));
    if (preamble < -1)
        throw std::invalid_argument(
            "burst_scheduler_cc: echo_preamble must be >= 0, or -1 for any, got " +
            std::to_string(preamble));
    if (!all_finite(waveform))
        throw std::invalid_argument(
            "burst_scheduler_cc: echo_waveform must contain finite values only");
    const int64_t min_offset = static_cast<int64_t>(d_lookahead) + d_latency;
    if (!waveform.empty() && offset < min_offset)
        throw std::invalid_argument(
            "burst_scheduler_cc: echo_offset must be >= lookahead + latency = " +
            std::to_string(min_offset) + " (the minimum turnaround), got " +
            std::to_string(offset));
    if (offset > static_cast<int64_t>(max_time))
        throw std::invalid_argument("burst_scheduler_cc: echo_offset must be <= 2^62, got " +
                                    std::to_string(offset));
    if (!waveform.empty())
        c.waveform = std::make_shared<const std::vector<gr_complex>>(waveform);
    c.offset = offset;
    c.preamble = preamble;
    c.phase = phase;
    return c;
}

void burst_scheduler_cc_impl::set_echo(const std::vector<gr_complex>& waveform,
                                       int64_t offset,
                                       int64_t preamble,
                                       const std::string& phase_mode,
                                       double phase)
{
    echo_config c = checked_echo(waveform, offset, preamble, phase_mode, phase);
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    d_echo = std::move(c);
}

std::vector<gr_complex> burst_scheduler_cc_impl::echo_waveform() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return d_echo.waveform ? *d_echo.waveform : std::vector<gr_complex>();
}

int64_t burst_scheduler_cc_impl::echo_offset() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return d_echo.offset;
}

int64_t burst_scheduler_cc_impl::echo_preamble() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return d_echo.preamble;
}

double burst_scheduler_cc_impl::echo_phase() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    return d_echo.phase;
}

std::string burst_scheduler_cc_impl::echo_phase_mode() const
{
    std::lock_guard<std::mutex> lock(d_echo_mutex);
    switch (d_echo.mode) {
    case phase_mode::plus:
        return "plus";
    case phase_mode::minus:
        return "minus";
    default:
        return "fixed";
    }
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
    out.gain = gr_complex(static_cast<float>(g.real()), static_cast<float>(g.imag()));
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
    std::vector<gr_complex> waveform = echo_waveform();
    int64_t offset = echo_offset();
    int64_t preamble = echo_preamble();
    std::string mode = echo_phase_mode();
    double phase = echo_phase();
    const pmt::pmt_t w = pmt::dict_ref(msg, d_waveform_key, pmt::PMT_NIL);
    if (!pmt::is_null(w)) {
        if (!pmt::is_c32vector(w))
            return warn_malformed("echo message: `waveform` must be a c32vector", msg);
        waveform = pmt::c32vector_elements(w);
    }
    if (get_integer(msg, d_offset_key, offset) == field::bad)
        return warn_malformed("echo message: `offset` must be an integer", msg);
    if (get_integer(msg, d_preamble_key, preamble) == field::bad)
        return warn_malformed("echo message: `preamble` must be an integer", msg);
    if (get_real(msg, d_phase_key, phase) == field::bad)
        return warn_malformed("echo message: `phase` must be a finite real number", msg);
    const pmt::pmt_t m = pmt::dict_ref(msg, d_mode_key, pmt::PMT_NIL);
    if (!pmt::is_null(m)) {
        if (!pmt::is_symbol(m))
            return warn_malformed("echo message: `mode` must be plus, minus or fixed", msg);
        mode = pmt::symbol_to_string(m);
    }
    try {
        set_echo(waveform, offset, preamble, mode, phase);
    } catch (const std::invalid_argument& e) {
        warn_malformed(std::string("echo message: ") + e.what(), msg);
    }
}

// --------------------------------------------------------------------- tags

void burst_scheduler_cc_impl::handle_peak(const gr::tag_t& tag)
{
    echo_config echo;
    {
        std::lock_guard<std::mutex> lock(d_echo_mutex);
        if (!d_echo.waveform)
            return;
        echo = d_echo; // shares the waveform: no copy of the samples
    }
    if (!is_proper_dict(tag.value))
        return warn_malformed("sync_peak tag at " + std::to_string(tag.offset) +
                                  " is not a dict",
                              tag.value);
    int64_t preamble = -1;
    const field fpre = get_integer(tag.value, d_preamble_key, preamble);
    if (echo.preamble >= 0 && (fpre != field::ok || preamble != echo.preamble))
        return; // another preamble: not ours
    double index = 0, phase = 0;
    if (get_real(tag.value, d_index_key, index) != field::ok || index < 0 ||
        index > static_cast<double>(max_time))
        return warn_malformed("sync_peak tag at " + std::to_string(tag.offset) +
                                  ": `index` must be a finite non-negative number",
                              tag.value);
    const field fp = get_real(tag.value, d_phase_key, phase);
    if (echo.mode != phase_mode::fixed && fp != field::ok)
        return warn_malformed("sync_peak tag at " + std::to_string(tag.offset) +
                                  ": `phase` must be a finite number for an echo in mode plus "
                                  "or minus",
                              tag.value);
    const double rot = echo.mode == phase_mode::plus    ? phase
                       : echo.mode == phase_mode::minus ? -phase
                                                        : echo.phase;
    const int64_t t = std::llround(index) + echo.offset;
    const gr_complex gain(static_cast<float>(std::cos(rot)), static_cast<float>(std::sin(rot)));
    burst_spec b{ static_cast<uint64_t>(std::max<int64_t>(t, 0)), echo.waveform, gain };
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
    std::stable_sort(d_tags.begin(), d_tags.end(), gr::tag_t::offset_compare);

    uint64_t pos = r0;
    uint64_t same_offset = UINT64_MAX;
    size_t same_index = 0;
    bool stall = false;
    for (const auto& tag : d_tags) {
        const bool peak = pmt::eqv(tag.key, d_sync_peak_key);
        if (!peak && !pmt::eqv(tag.key, d_pending_key))
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
        if (peak) {
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
