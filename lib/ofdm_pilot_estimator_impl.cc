/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "ofdm_pilot_estimator_impl.h"
#include "message_fields.h"
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>

namespace gr {
namespace cohere {

namespace {
// a sync_peak index beyond this is not a sample index (the tag offset is used)
constexpr double max_index = 4.0e18;
} // namespace

ofdm_pilot_estimator::sptr ofdm_pilot_estimator::make(int fft_len,
                                                      int cp_len,
                                                      const std::vector<int>& carrier_map,
                                                      const std::vector<gr_complex>& pilot_values,
                                                      int num_symbols,
                                                      int start_offset,
                                                      const std::string& tag_key,
                                                      bool equalize)
{
    return gnuradio::make_block_sptr<ofdm_pilot_estimator_impl>(fft_len, cp_len, carrier_map,
                                                                pilot_values, num_symbols,
                                                                start_offset, tag_key, equalize);
}

ofdm_pilot_estimator_impl::ofdm_pilot_estimator_impl(int fft_len,
                                                     int cp_len,
                                                     const std::vector<int>& carrier_map,
                                                     const std::vector<gr_complex>& pilot_values,
                                                     int num_symbols,
                                                     int start_offset,
                                                     const std::string& tag_key,
                                                     bool equalize)
    : gr::sync_block("ofdm_pilot_estimator",
                     gr::io_signature::make(1, 1, sizeof(gr_complex)),
                     gr::io_signature::make(0, 1, sizeof(gr_complex))),
      d_kernel(fft_len, cp_len, carrier_map, pilot_values),
      d_num_symbols(num_symbols),
      d_start_offset(start_offset),
      d_lookback(d_kernel.symbol_len()),
      d_equalize(equalize),
      d_tag_key(pmt::intern(tag_key)),
      d_port(pmt::intern("symbols")),
      d_index_key(pmt::intern("index")),
      d_time_key(pmt::intern("time")),
      d_frame_key(pmt::intern("frame")),
      d_symbol_key(pmt::intern("symbol")),
      d_phase_key(pmt::intern("common_phase")),
      d_amp_key(pmt::intern("common_amp")),
      d_pilots_key(pmt::intern("pilots"))
{
    if (num_symbols < 1)
        throw std::invalid_argument("ofdm_pilot_estimator: num_symbols must be >= 1, got " +
                                    std::to_string(num_symbols));
    if (start_offset < 0)
        throw std::invalid_argument("ofdm_pilot_estimator: start_offset must be >= 0, got " +
                                    std::to_string(start_offset));
    if (tag_key.empty())
        throw std::invalid_argument("ofdm_pilot_estimator: tag_key must not be empty");
    d_symbol_buf.resize(d_kernel.symbol_len());
    // A frame may start before the call that brings its tag (a sync_peak's
    // index is before the peak the tag is on): the history keeps one symbol
    // of the past, so whether it is reached never depends on the cuts.
    set_history(d_lookback + 1);
    d_pilot_ls.resize(d_kernel.num_pilots());
    d_data_raw.resize(d_kernel.num_data());
    d_data_eq.resize(d_kernel.num_data());
    message_port_register_out(d_port);
}

void ofdm_pilot_estimator_impl::collect_frame_starts(uint64_t start, uint64_t end)
{
    // Tags are taken in stream order, and a start inside the frame of an
    // earlier tag is dropped here, so the frames cut never depend on how the
    // stream is split into work() calls.
    get_tags_in_range(d_tags, 0, start, end, d_tag_key);
    const uint64_t frame_len = static_cast<uint64_t>(d_num_symbols) * d_kernel.symbol_len();
    for (const auto& tag : d_tags) {
        int64_t origin = static_cast<int64_t>(tag.offset);
        double v = 0;
        const field fi =
            is_proper_dict(tag.value) ? get_real(tag.value, d_index_key, v) : field::absent;
        if (fi == field::bad || (fi == field::ok && !(std::abs(v) < max_index))) {
            d_logger->warn("{} tag at {}: `index` must be a finite real sample index below "
                           "4e18, got {}; frame dropped",
                           pmt::symbol_to_string(d_tag_key),
                           tag.offset,
                           pmt::write_string(pmt::dict_ref(tag.value, d_index_key, pmt::PMT_NIL)));
            continue;
        }
        if (fi == field::ok) {
            origin = std::llround(v);
            // a detection's start is within a sample of its tag: one far
            // ahead would hold every later frame back (frames are cut in
            // stream order), so an index more than a symbol after its tag is
            // malformed
            if (origin > static_cast<int64_t>(tag.offset) + static_cast<int64_t>(d_lookback)) {
                d_logger->warn("{} tag at {}: `index` {} is more than {} samples (one symbol) "
                               "after the tag; frame dropped",
                               pmt::symbol_to_string(d_tag_key),
                               tag.offset,
                               v,
                               d_lookback);
                continue;
            }
        }
        const int64_t first = origin + d_start_offset;
        // measured from the tag (never from this call's start, which depends
        // on the cuts); the tag is in this call, so the history reaches it
        if (first < 0) {
            d_logger->warn("frame start {} (tag at {}) is before the stream; frame dropped",
                           first,
                           tag.offset);
            continue;
        }
        if (first < static_cast<int64_t>(tag.offset) - static_cast<int64_t>(d_lookback)) {
            d_logger->warn("frame start {} is more than {} samples before its tag at {}; frame "
                           "dropped",
                           first,
                           d_lookback,
                           tag.offset);
            continue;
        }
        // frames are cut in stream order: a start whose frame overlaps the
        // last accepted one (a second detection of the same frame: expected,
        // debug) or lies wholly before it (a tag whose `index` pointed ahead
        // of a later tag's: unusual, a warning) is dropped
        if (static_cast<uint64_t>(first) + frame_len <= d_accepted_start) {
            d_logger->warn("frame start {} (tag at {}) is before the frame accepted at {} "
                           "(frames are cut in stream order): dropped",
                           first,
                           tag.offset,
                           d_accepted_start);
            continue;
        }
        if (static_cast<uint64_t>(first) < d_accepted_end) {
            d_debug_logger->debug("frame start {} (tag at {}) overlaps the frame at {}..{}: "
                                  "dropped",
                                  first,
                                  tag.offset,
                                  d_accepted_start,
                                  d_accepted_end);
            continue;
        }
        d_pending.push_back(static_cast<uint64_t>(first));
        d_accepted_start = static_cast<uint64_t>(first);
        d_accepted_end = static_cast<uint64_t>(first) + frame_len;
    }
}

void ofdm_pilot_estimator_impl::finish_symbol()
{
    const uint64_t time = d_frame_start + static_cast<uint64_t>(d_symbol) * d_kernel.symbol_len();
    bool finite = true;
    for (const auto& v : d_symbol_buf)
        finite = finite && std::isfinite(v.real()) && std::isfinite(v.imag());
    if (!finite) {
        d_dropped++;
        const auto now = std::chrono::steady_clock::now();
        if (now - d_last_warning > std::chrono::seconds(1)) {
            d_logger->warn("OFDM symbol at sample {} has non-finite samples: dropped ({} so far)",
                           time, d_dropped.load());
            d_last_warning = now;
        }
        return;
    }
    const gr_complex common = d_kernel.process(d_symbol_buf.data(), d_pilot_ls.data(),
                                               d_data_raw.data(), d_data_eq.data());
    pmt::pmt_t meta = pmt::make_dict();
    meta = pmt::dict_add(meta, d_time_key, pmt::from_uint64(time));
    meta = pmt::dict_add(meta, d_frame_key, pmt::from_uint64(d_frame_start));
    meta = pmt::dict_add(meta, d_symbol_key, pmt::from_long(d_symbol));
    meta = pmt::dict_add(meta, d_phase_key, pmt::from_double(std::arg(common)));
    meta = pmt::dict_add(meta, d_amp_key, pmt::from_double(std::abs(common)));
    meta = pmt::dict_add(meta, d_pilots_key, pmt::init_c32vector(d_pilot_ls.size(), d_pilot_ls));
    const auto& data = d_equalize ? d_data_eq : d_data_raw;
    message_port_pub(d_port, pmt::cons(meta, pmt::init_c32vector(data.size(), data)));
    d_posted++;
}

int ofdm_pilot_estimator_impl::work(int noutput_items,
                                    gr_vector_const_void_star& input_items,
                                    gr_vector_void_star& output_items)
{
    // in[k] is absolute sample start + k, for k >= -d_lookback (the history)
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]) + d_lookback;
    if (!output_items.empty())
        std::memcpy(output_items[0], in, noutput_items * sizeof(gr_complex));
    const uint64_t start = nitems_read(0);
    const uint64_t end = start + static_cast<uint64_t>(noutput_items);
    collect_frame_starts(start, end);

    uint64_t pos = start;
    const size_t sym_len = d_kernel.symbol_len();
    while (pos < end) {
        if (!d_active) {
            // accepted starts do not overlap (collect_frame_starts); one
            // before pos, from the history, is past the frame just cut
            if (d_pending.empty() || d_pending.front() >= end)
                break;
            d_frame_start = d_pending.front();
            d_pending.pop_front();
            d_active = true;
            d_symbol = 0;
            d_fill = 0;
            pos = d_frame_start;
        }
        const size_t take = std::min<uint64_t>(sym_len - d_fill, end - pos);
        std::memcpy(d_symbol_buf.data() + d_fill,
                    in + (static_cast<int64_t>(pos) - static_cast<int64_t>(start)),
                    take * sizeof(gr_complex));
        d_fill += take;
        pos += take;
        if (d_fill == sym_len) {
            finish_symbol();
            d_fill = 0;
            if (++d_symbol == d_num_symbols)
                d_active = false;
        }
    }
    return noutput_items;
}

} // namespace cohere
} // namespace gr
