/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "preamble_detector_cc_impl.h"
#include <volk/volk.h>
#include "kernels/detection_metric.h"
#include <gnuradio/block_detail.h>
#include <gnuradio/buffer_reader.h>
#include <fmt/format.h>
#include <gnuradio/io_signature.h>
#include <algorithm>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {

namespace {
constexpr size_t k_min_len = 16;
constexpr size_t k_max_len = 4096;
constexpr size_t k_chunk = 8192;                               // samples ingested per step
constexpr int64_t k_pad = kernels::preamble_fit::k_lags;       // lags before the peak
constexpr double k_pfa = 1e-6;                                 // default false alarms per sample
constexpr double k_floor = 0.01;                               // lowest default threshold
constexpr unsigned k_reader_history = 65536;                   // see set_history()
constexpr double k_min_rms = 1e-15, k_max_rms = 1e15;          // preamble RMS magnitude

const std::vector<std::vector<gr_complex>>&
checked_preambles(const std::vector<std::vector<gr_complex>>& preambles)
{
    if (preambles.empty())
        throw std::invalid_argument("preamble_detector_cc: preambles must not be empty");
    for (size_t i = 0; i < preambles.size(); i++) {
        const auto& p = preambles[i];
        if (p.size() < k_min_len || p.size() > k_max_len)
            throw std::invalid_argument("preamble_detector_cc: preambles[" + std::to_string(i) +
                                        "] must have 16..4096 samples, got " +
                                        std::to_string(p.size()));
        double e = 0.0;
        for (const auto& v : p) {
            if (!std::isfinite(v.real()) || !std::isfinite(v.imag()))
                throw std::invalid_argument("preamble_detector_cc: preambles[" +
                                            std::to_string(i) + "] has a non-finite sample");
            e += std::norm(std::complex<double>(v)); // in double: no underflow
        }
        if (!(e > 0.0))
            throw std::invalid_argument("preamble_detector_cc: preambles[" + std::to_string(i) +
                                        "] is all zeros");
        // The metric's levels (threshold ||p||^2 E) and the correlations are
        // floats: far outside unit scale they overflow or underflow (at an
        // RMS of 1e18 or 1e-22 the tags were wrong). The metric does not
        // depend on the scale, so these limits cost nothing.
        const double rms = std::sqrt(e / static_cast<double>(p.size()));
        if (!(rms >= k_min_rms && rms <= k_max_rms))
            throw std::invalid_argument(fmt::format(
                "preamble_detector_cc: preambles[{}] must have an RMS magnitude in "
                "1e-15..1e15 (the metric is computed in float), got {:g}",
                i,
                rms));
    }
    return preambles;
}

// sum k |p[k]|^2 / sum |p[k]|^2: with a frequency offset w (rad/sample) the
// correlation with p has the angle phi + w * centroid to first order in w,
// the received phase at that sample (N - 1) / 2 for a constant envelope)
double energy_centroid(const std::vector<gr_complex>& p)
{
    double e = 0.0, m = 0.0;
    for (size_t k = 0; k < p.size(); k++) {
        const double a = std::norm(std::complex<double>(p[k]));
        e += a;
        m += static_cast<double>(k) * a;
    }
    return m / e; // e > 0: checked_preambles() ran first
}

void check_threshold(double threshold)
{
    if (!(threshold == 0.0 || (threshold > 0.0 && threshold < 1.0)))
        throw std::invalid_argument(
            "preamble_detector_cc: threshold must be in (0, 1), or 0 for the defaults, got " +
            std::to_string(threshold));
}
} // namespace

preamble_detector_cc::sptr preamble_detector_cc::make(
    const std::vector<std::vector<gr_complex>>& preambles, double threshold, double samp_rate)
{
    return gnuradio::make_block_sptr<preamble_detector_cc_impl>(preambles, threshold, samp_rate);
}

preamble_detector_cc_impl::track::track(const std::vector<gr_complex>& p,
                                        float threshold,
                                        size_t block)
    : len(p.size()),
      prestream(p.size() - 1),
      corr(kernels::make_correlator(p)),
      metric(p.size(), block, corr->block_outputs()),
      fit(p),
      norm2(static_cast<float>(fit.norm2())),
      centroid(energy_centroid(p)),
      span(fit.span()),
      // Periodic: window N, holdoff N + span (the sidelobes of a periodic
      // preamble reach span past its start). Aperiodic: N - 1 for both, so
      // that occurrences N apart (back to back) stay apart even when their
      // fractional starts put the integer peaks N - 1 apart; the window
      // starting N - 1 after a peak overlaps its preamble by about one
      // sample, a metric near 1 / N, far below any default threshold.
      picker(fit.span() > 0 ? p.size() : std::max<size_t>(p.size() - 1, 1),
             fit.span() > 0 ? p.size() + fit.span() : std::max<size_t>(p.size() - 1, 1),
             threshold),
      default_threshold(kernels::preamble_fit::default_threshold(p.size(), k_pfa, k_floor))
{
}

preamble_detector_cc_impl::preamble_detector_cc_impl(
    const std::vector<std::vector<gr_complex>>& preambles, double threshold, double samp_rate)
    : gr::block("preamble_detector_cc",
                gr::io_signature::make(1, 1, sizeof(gr_complex)),
                gr::io_signature::make(1, 1, sizeof(gr_complex))),
      d_samp_rate(samp_rate),
      d_tag_key(pmt::intern("sync_peak")),
      d_port(pmt::intern("sync")),
      d_k_index(pmt::intern("index")),
      d_k_phase(pmt::intern("phase")),
      d_k_phase_at(pmt::intern("phase_at")),
      d_k_amp(pmt::intern("amp")),
      d_k_snr(pmt::intern("snr_db")),
      d_k_cfo(pmt::intern("cfo")),
      d_k_preamble(pmt::intern("preamble")),
      d_k_time(pmt::intern("time")),
      d_id(pmt::intern(alias()))
{
    checked_preambles(preambles);
    check_threshold(threshold);
    if (!(samp_rate > 0.0) || !std::isfinite(samp_rate))
        throw std::invalid_argument("preamble_detector_cc: samp_rate must be finite and > 0, got " +
                                    std::to_string(samp_rate));

    // blocks of the screen (screened_metric): B <= N / 4 for the shortest
    // preamble, at most 32
    size_t min_len = k_max_len;
    for (const auto& p : preambles)
        min_len = std::min(min_len, p.size());
    d_block = 32;
    while (d_block > 4 && 4 * d_block > min_len)
        d_block /= 2;

    d_tracks.reserve(preambles.size());
    size_t max_block = 1, max_reach = 1, max_input = 1;
    for (const auto& p : preambles) {
        d_tracks.emplace_back(p, 0.5f, d_block);
        const auto& corr = *d_tracks.back().corr;
        d_max_len = std::max(d_max_len, p.size());
        d_max_span = std::max(d_max_span, d_tracks.back().span);
        max_block = std::max(max_block, corr.block_outputs());
        // a full step reads input_span() samples: its windows and up to 3 more
        max_reach = std::max(max_reach, corr.input_span() - p.size() + 1);
        max_input = std::max(max_input, corr.input_span());
    }
    // Several preambles: how far each one's correlator responds to the
    // others (an occurrence of i whose metric on j's correlator crosses j's
    // threshold is tagged as j too); _set_threshold() warns about it
    if (d_tracks.size() > 1)
        for (size_t j = 0; j < d_tracks.size(); j++) {
            d_tracks[j].leaks.resize(d_tracks.size());
            for (size_t i = 0; i < d_tracks.size(); i++)
                if (i != j)
                    d_tracks[j].leaks[i] = kernels::cross_metric(d_tracks[i].fit.preamble(),
                                                                 d_tracks[j].fit.preamble());
        }
    _set_threshold(threshold);

    // Bounds (see compact): the analysis keeps samples from the
    // oldest of: the next window to correlate (less than a correlator step's
    // input span behind the newest sample), an open peak window (at most 2 N before that) and a peak
    // waiting for its fit, minus the shifts tried for periodic preambles
    // (span < N) and the fit's lags.
    d_chunk = k_chunk;
    const int64_t blk = static_cast<int64_t>(d_block);
    // a periodic peak may be up to span before the stream, and its shifts
    // read span before that
    d_lead = (k_pad + 2 * static_cast<int64_t>(d_max_span) + blk - 1) / blk * blk;
    d_history = 3 * d_max_len + d_max_span + max_reach + 2 * k_pad + 8;
    // release point >= newest - (input span - 1 + 2 N + span + lags), plus
    // the input item kept unconsumed (see release_point)
    d_max_delay = 0;
    for (const auto& t : d_tracks)
        d_max_delay =
            std::max(d_max_delay,
                     3 * t.len + t.span + (t.corr->input_span() - t.len + 1) + 2 * k_pad + 1);
    // room for four chunks beyond the history and the delay (compaction is
    // rare), the zeros of the end and the rounding to whole blocks
    d_tail = d_max_len + d_max_span + 2 * k_pad;
    const size_t size = (std::max(d_history, d_max_delay) + 4 * d_chunk + d_tail + 2 * d_block) /
                        d_block * d_block;
    d_buf.assign(size, gr_complex(0, 0));
    d_bsum.assign(size / d_block, 0.0);
    d_bbad.assign(size / d_block, 0);
    d_base = -d_lead; // zeros before the stream start serve the lags of a peak at 0
    d_ingested = 0;
    d_clean.assign(std::max(std::max(max_block + d_max_len, max_input),
                            2 * d_max_span + d_max_len + 2 * k_pad),
                   gr_complex(0, 0));
    const size_t scratch = max_block;
    d_found.reserve(scratch / k_min_len + 4);
    for (auto& t : d_tracks)
        t.waiting.reserve(scratch / k_min_len + 4);
    d_pending.reserve(256);

    set_relative_rate(1, 1);
    // The history is not used as such: it makes GNU Radio give the upstream
    // buffer at least 2 k_reader_history items, so that every call sees large
    // batches (scheduler round trips cost as much as the FFTs otherwise).
    set_history(k_reader_history);
    set_min_output_buffer(0, 2 * k_reader_history); // (the per-port form logs nothing)
    message_port_register_out(d_port);
}

preamble_detector_cc_impl::~preamble_detector_cc_impl() = default;

void preamble_detector_cc_impl::_set_threshold(double threshold)
{
    for (size_t j = 0; j < d_tracks.size(); j++) {
        auto& t = d_tracks[j];
        const double th = threshold == 0.0 ? t.default_threshold : threshold;
        t.picker.set_threshold(static_cast<float>(th));
        for (size_t i = 0; i < t.leaks.size(); i++) {
            const auto& l = t.leaks[i];
            if (i == j || l.bound < th)
                continue;
            d_logger->warn("preamble {} received alone reaches metric {:.4f} on preamble {}'s "
                           "correlator without noise (window {} samples from its start), up "
                           "to {:.4f} with noise (at {:g} dB, 4 standard deviations): not below "
                           "its threshold {:.4f}, so an occurrence of {} can be tagged as {} "
                           "too. Use sequences with less cross-correlation (e.g. distinct "
                           "Zadoff-Chu roots of a prime length) or a threshold above {:.4f}",
                           i,
                           l.metric,
                           j,
                           l.lag,
                           l.bound,
                           l.bound_snr_db,
                           th,
                           i,
                           j,
                           l.bound);
        }
    }
}

void preamble_detector_cc_impl::set_threshold(double threshold)
{
    check_threshold(threshold);
    gr::thread::scoped_lock lock(d_setlock);
    _set_threshold(threshold);
}

namespace {
size_t checked_index(int preamble, size_t n)
{
    if (preamble < 0 || static_cast<size_t>(preamble) >= n)
        throw std::invalid_argument("preamble_detector_cc: preamble must be in 0.." +
                                    std::to_string(n - 1) + ", got " + std::to_string(preamble));
    return static_cast<size_t>(preamble);
}
} // namespace

double preamble_detector_cc_impl::threshold(int preamble) const
{
    return d_tracks[checked_index(preamble, d_tracks.size())].picker.threshold();
}

double preamble_detector_cc_impl::default_threshold(int preamble) const
{
    return d_tracks[checked_index(preamble, d_tracks.size())].default_threshold;
}

int preamble_detector_cc_impl::preamble_length(int preamble) const
{
    return static_cast<int>(d_tracks[checked_index(preamble, d_tracks.size())].len);
}

int preamble_detector_cc_impl::repetition_period(int preamble) const
{
    return static_cast<int>(d_tracks[checked_index(preamble, d_tracks.size())].fit.period());
}

// ---------------------------------------------------------------------------
// analysis

void preamble_detector_cc_impl::compact()
{
    // keep what the analysis still needs and what is not released yet
    int64_t keep = static_cast<int64_t>(std::min(d_ingested, d_released));
    for (const auto& t : d_tracks) {
        int64_t need = static_cast<int64_t>(t.next);
        if (t.picker.open())
            need = std::min(need, static_cast<int64_t>(pending_start(t)));
        if (!t.waiting.empty())
            need = std::min(need, static_cast<int64_t>(t.waiting.front().index) -
                                      static_cast<int64_t>(t.len));
        keep = std::min(keep, need - static_cast<int64_t>(t.span) - k_pad);
    }
    const int64_t blk = static_cast<int64_t>(d_block);
    keep = d_base + std::max<int64_t>(keep - d_base, 0) / blk * blk; // whole blocks
    const size_t shift = static_cast<size_t>(keep - d_base);
    if (shift == 0)
        return;
    const size_t count = static_cast<size_t>(static_cast<int64_t>(d_ingested) - keep);
    std::memmove(d_buf.data(), d_buf.data() + shift, count * sizeof(gr_complex));
    const size_t nblk = (count + d_block - 1) / d_block, bshift = shift / d_block;
    std::memmove(d_bsum.data(), d_bsum.data() + bshift, nblk * sizeof(double));
    std::memmove(d_bbad.data(), d_bbad.data() + bshift, nblk * sizeof(uint32_t));
    d_base = keep;
}

size_t preamble_detector_cc_impl::room() const
{
    const size_t used = static_cast<size_t>(static_cast<int64_t>(d_ingested) - d_base);
    return used + d_tail < d_buf.size() ? d_buf.size() - used - d_tail : 0;
}

const gr_complex* preamble_detector_cc_impl::clean(int64_t from, size_t n)
{
    kernels::sanitize_copy(d_buf.data() + (from - d_base), d_clean.data(), n);
    return d_clean.data();
}

void preamble_detector_cc_impl::ingest(const gr_complex* in, size_t n)
{
    if (room() < n) {
        compact();
        if (room() < n) // cannot happen (general_work asks room() first)
            throw std::logic_error("preamble_detector_cc: analysis buffer overflow");
    }
    // copy and block energies in one pass; a block begun by the previous
    // call is summed again from its start
    const size_t pos = static_cast<size_t>(static_cast<int64_t>(d_ingested) - d_base);
    const size_t B = d_block;
    size_t k = pos / B, done = 0, bad = 0;
    if (pos % B != 0) {
        done = std::min(n, B - pos % B);
        std::memcpy(d_buf.data() + pos, in, done * sizeof(gr_complex));
        const uint32_t before = d_bbad[k];
        kernels::block_energy(
            d_buf.data() + k * B, nullptr, pos % B + done, B, &d_bsum[k], &d_bbad[k]);
        bad += d_bbad[k] - before;
        k++;
    }
    if (done < n)
        bad += kernels::block_energy(
            in + done, d_buf.data() + pos + done, n - done, B, &d_bsum[k], &d_bbad[k]);
    if (bad > 0) {
        d_nonfinite += bad;
        const auto now = std::chrono::steady_clock::now();
        if (now - d_last_nonfinite_log > std::chrono::seconds(1)) {
            d_last_nonfinite_log = now;
            d_logger->warn("{:d} non-finite input samples in [{:d}, {:d}) treated as zeros "
                           "({:d} so far; warnings at most once a second)",
                           bad,
                           d_ingested,
                           d_ingested + n,
                           d_nonfinite.load());
        }
    }
    d_ingested += n;
    for (size_t i = 0; i < d_tracks.size(); i++)
        analyse(d_tracks[i], i, false);
}

uint64_t preamble_detector_cc_impl::pending_start(const track& t)
{
    const uint64_t b = t.picker.pending_bound(t.next + t.len);
    return b > t.len ? b - t.len : 0;
}

void preamble_detector_cc_impl::take_found(track& t)
{
    // Peaks stay in the picker's indices (start + len). One at a start
    // before the stream is a preamble cut by the stream start, or for a
    // periodic preamble possibly a sidelobe up to span before one that
    // starts in the stream: fit_waiting() shifts it, and tags only starts
    // >= 0. Earlier ones only keep their sidelobes from being taken.
    for (const auto& pk : d_found)
        if (pk.index + t.span >= t.len)
            t.waiting.push_back(pk);
}

void preamble_detector_cc_impl::analyse_prestream(track& t)
{
    // Window starts s = -(len - 1) .. -1 overlap the stream by q = len + s
    // samples: metric |sum_{k<q} x[k] conj(p[len - q + k])|^2 / (E_q ||p||^2),
    // E_q = sum_{k<q} |x[k]|^2 (at most the overlap's share of ||p||^2, so it
    // adds no false alarms). A preamble cut by the stream start peaks here,
    // and its sidelobes after sample 0 fall in the picker's holdoff.
    const size_t n = t.len;
    const gr_complex* x = clean(0, n - 1); // zeros after the end of a short stream
    double e = 0.0;
    for (size_t q = 1; q < n; q++) {
        e += std::norm(std::complex<double>(x[q - 1]));
        gr_complex c;
        volk_32fc_x2_conjugate_dot_prod_32fc(
            &c, x, t.fit.preamble().data() + (n - q), static_cast<unsigned int>(q));
        const double m = e > 0.0 ? std::norm(std::complex<double>(c)) / (e * t.norm2) : 0.0;
        t.prestream[q - 1] = static_cast<float>(std::min(m, 1.0));
    }
    d_found.clear();
    t.picker.process(t.prestream.data(), n - 1, 1, d_found);
    take_found(t);
    t.prestream_done = true;
}

void preamble_detector_cc_impl::analyse_poststream(track& t)
{
    // At the end of the stream, the window starts s = next .. ingested - 1
    // that the steps leave out overlap the stream by q = ingested - s < len
    // samples: metric |sum_{k<q} x[s + k] conj(p[k])|^2 / (E_q ||p||^2), E_q
    // the energy of those q samples (the mirror of analyse_prestream). A
    // preamble cut by the stream end peaks here, where fit_waiting() does not
    // tag it; without these windows one of its sidelobes was the largest
    // metric left, and was tagged at a start where nothing starts.
    if (d_ingested <= t.next)
        return;
    const size_t n = static_cast<size_t>(d_ingested - t.next); // < len
    const gr_complex* x = clean(static_cast<int64_t>(t.next), n);
    const gr_complex* p = t.fit.preamble().data();
    double e = 0.0;
    for (size_t j = n; j-- > 0;) {
        e += std::norm(std::complex<double>(x[j]));
        gr_complex c;
        volk_32fc_x2_conjugate_dot_prod_32fc(&c, x + j, p, static_cast<unsigned int>(n - j));
        const double m = e > 0.0 ? std::norm(std::complex<double>(c)) / (e * t.norm2) : 0.0;
        t.prestream[j] = static_cast<float>(std::min(m, 1.0));
    }
    d_found.clear();
    t.picker.process(t.prestream.data(), n, t.next + t.len, d_found);
    take_found(t);
    t.next += n;
}

void preamble_detector_cc_impl::analyse(track& t, size_t id, bool flushing)
{
    if (!t.prestream_done) {
        if (d_ingested + 1 < t.len && !flushing)
            return; // the first len - 1 samples are not all in yet
        analyse_prestream(t);
    }
    const size_t blk = t.corr->block_outputs();
    const size_t span = t.corr->input_span();
    for (;;) {
        // Full steps (which read the input span: their windows and up to 3
        // samples more, so that the bits depend on the stream alone), and
        // at the end of the stream the windows left in a partial step.
        size_t cnt = 0, nx = 0;
        if (d_ingested >= t.next + span) {
            cnt = blk;
            nx = span;
        } else if (flushing && d_ingested + 1 > t.next + t.len) {
            cnt = std::min(blk, static_cast<size_t>(d_ingested + 1 - t.len - t.next));
            nx = cnt + t.len - 1;
        } else {
            break;
        }
        const size_t pos = static_cast<size_t>(static_cast<int64_t>(t.next) - d_base);
        const gr_complex* x = d_buf.data() + pos;
        // the FFT needs the non-finite samples zeroed
        const gr_complex* xin = x;
        for (size_t k = pos / d_block; k <= (pos + nx - 1) / d_block; k++) {
            if (d_bbad[k] != 0) {
                xin = clean(static_cast<int64_t>(t.next), nx);
                break;
            }
        }
        const gr_complex* c = cnt == blk && nx == span ? t.corr->full_step(xin)
                                                       : t.corr->step(xin, cnt);
        const size_t above = t.metric.process(x,
                                              pos % d_block,
                                              d_bsum.data() + pos / d_block,
                                              c,
                                              cnt,
                                              t.norm2,
                                              t.picker.threshold());
        // an idle picker ignores a step that stays below its threshold
        if (t.picker.open() || above > 0) {
            d_found.clear();
            t.picker.process(t.metric.metric(), cnt, t.next + t.len, d_found);
            take_found(t);
        }
        t.next += cnt;
    }
    fit_waiting(t, id, flushing);
}

void preamble_detector_cc_impl::fit_waiting(track& t, size_t id, bool flushing)
{
    size_t done = 0;
    for (const auto& w : t.waiting) {
        // w.index is the picker's: the peak's start plus len (see take_found)
        if (!flushing && w.index + t.span + k_pad > d_ingested)
            break;
        int64_t start = static_cast<int64_t>(w.index) - static_cast<int64_t>(t.len);
        int wrap = 0;
        if (t.span > 0) { // periodic preamble: the peak may be a sidelobe at a multiple of L
            const int64_t from = start - static_cast<int64_t>(t.span) - k_pad;
            // (zeros before the stream: a shift may land before it, then
            // it was a preamble cut by the stream start)
            start += t.fit.best_shift(clean(from, 2 * t.span + t.len + 2 * k_pad), wrap);
        }
        done++;
        // two sidelobes of one periodic preamble can land on the same start
        // (aperiodic peaks are already W = N - 1 apart: the picker's holdoff)
        if (t.span > 0 && t.have_last && start < t.last_start + static_cast<int64_t>(t.len))
            continue;
        t.have_last = true;
        t.last_start = start;
        if (start < 0)
            continue; // a preamble cut by the stream start: nothing to tag
        if (start + static_cast<int64_t>(t.len) > static_cast<int64_t>(d_ingested))
            continue; // cut by the stream end (only when flushing): likewise
        detection det{ static_cast<uint64_t>(start),
                       static_cast<int>(id),
                       t.fit.fit(clean(start - k_pad, t.len + 2 * k_pad), wrap) };
        auto it = std::upper_bound(
            d_pending.begin(), d_pending.end(), det.offset, [](uint64_t off, const detection& d) {
                return off < d.offset;
            });
        d_pending.insert(it, det);
    }
    if (done > 0)
        t.waiting.erase(t.waiting.begin(), t.waiting.begin() + static_cast<long>(done));
}

void preamble_detector_cc_impl::flush()
{
    // zeros after the last sample for the lags and windows of the last peaks
    // (and their block energies)
    const size_t pos = static_cast<size_t>(static_cast<int64_t>(d_ingested) - d_base);
    const size_t nz = std::min(d_buf.size() - pos, d_tail);
    std::fill(d_buf.begin() + static_cast<long>(pos),
              d_buf.begin() + static_cast<long>(pos + nz),
              gr_complex(0, 0));
    const size_t k = pos / d_block;
    kernels::block_energy(d_buf.data() + k * d_block,
                          nullptr,
                          pos % d_block + nz,
                          d_block,
                          &d_bsum[k],
                          &d_bbad[k]);
    for (size_t i = 0; i < d_tracks.size(); i++) {
        auto& t = d_tracks[i];
        analyse(t, i, true);
        analyse_poststream(t);
        kernels::peak pk;
        d_found.clear();
        if (t.picker.flush(pk))
            d_found.push_back(pk);
        take_found(t);
        fit_waiting(t, i, true);
    }
    d_flushed = true;
}

uint64_t preamble_detector_cc_impl::release_point() const
{
    if (d_flushed)
        return d_ingested;
    // a peak not tagged yet may still move back by up to span (periodic preambles)
    auto back = [](uint64_t i, size_t span) { return i > span ? i - span : 0; };
    uint64_t r = d_ingested;
    for (const auto& t : d_tracks) {
        r = std::min(r, back(pending_start(t), t.span));
        if (!t.waiting.empty())
            r = std::min(r, back(t.waiting.front().index, t.span + t.len));
    }
    return r;
}

// ---------------------------------------------------------------------------
// output

void preamble_detector_cc_impl::emit(const detection& det)
{
    const auto& f = det.fit;
    const double index = static_cast<double>(det.offset) + f.delta;
    const double phase = std::arg(f.alpha);
    const double amp = std::abs(f.alpha);
    const double snr_db = 10.0 * std::log10(f.snr);
    pmt::pmt_t d = pmt::make_dict();
    d = pmt::dict_add(d, d_k_index, pmt::from_double(index));
    d = pmt::dict_add(d, d_k_phase, pmt::from_double(phase));
    // where `phase` holds: `index` once the CFO is measured and removed
    // (periodic preambles), else the preamble's energy centroid
    d = pmt::dict_add(
        d,
        d_k_phase_at,
        pmt::from_double(f.has_cfo ? index : index + d_tracks[det.preamble].centroid));
    d = pmt::dict_add(d, d_k_amp, pmt::from_double(amp));
    d = pmt::dict_add(d, d_k_snr, pmt::from_double(snr_db));
    if (f.has_cfo)
        d = pmt::dict_add(d, d_k_cfo, pmt::from_double(f.cfo * d_samp_rate));
    d = pmt::dict_add(d, d_k_preamble, pmt::from_long(det.preamble));
    add_item_tag(0, det.offset, d_tag_key, d, d_id);
    message_port_pub(d_port, pmt::dict_add(d, d_k_time, pmt::from_uint64(det.offset)));
    d_detections++;
    // trace: one line per detection (Debian's default log level is debug)
    d_logger->trace("preamble {:d} at {:.3f}: phase {:.4f} rad, amp {:.4g}, SNR {:.1f} dB",
                    det.preamble,
                    index,
                    phase,
                    amp,
                    snr_db);
}

size_t preamble_detector_cc_impl::release(gr_complex* out, size_t max_items)
{
    const uint64_t r = release_point();
    if (r <= d_released || max_items == 0)
        return 0;
    const size_t k = static_cast<size_t>(std::min<uint64_t>(max_items, r - d_released));
    std::memcpy(out, d_buf.data() + (d_released - d_base), k * sizeof(gr_complex));
    size_t ntag = 0;
    while (ntag < d_pending.size() && d_pending[ntag].offset < d_released + k)
        emit(d_pending[ntag++]);
    if (ntag > 0)
        d_pending.erase(d_pending.begin(), d_pending.begin() + static_cast<long>(ntag));
    d_released += k;
    return k;
}

bool preamble_detector_cc_impl::input_finished(int ninput)
{
    const auto reader = detail()->input(0);
    gr::thread::scoped_lock guard(*reader->mutex());
    return reader->done() && reader->items_available() == ninput;
}

void preamble_detector_cc_impl::forecast(int, gr_vector_int& ninput_items_required)
{
    // Ask for enough new input to complete the next correlator step of the
    // slowest preamble (so that the call releases output), capped at half
    // the upstream buffer; 1 when there is output to release or at the end.
    const uint64_t read = nitems_read(0);
    bool done = false;
    int cap = 1 << 30;
    if (detail()) {
        const auto reader = detail()->input(0);
        done = reader->done();
        const int hist = static_cast<int>(history()) - 1;
        cap = std::max(1, (reader->max_possible_items_available() - hist) / 2);
    }
    if (done || d_release_cache > d_released) {
        ninput_items_required[0] = static_cast<int>(history());
        return;
    }
    // ingesting up to index `want` (exclusive) needs want + 1 items: the
    // last one stays unconsumed. The least input that lets some track make
    // progress: the nearest end of a correlator step, or of a detection's
    // fit, not the farthest. The output is released only as far as the
    // most lagging track allows, so waiting for the farthest step could
    // wait for input that comes only once that output is out (an RX ->
    // detector -> scheduler -> TX loop through the air stalled for good
    // when the tracks' steps were out of phase, at a lag max_delay() did
    // not cover).
    uint64_t nearest = d_ingested + d_chunk;
    for (const auto& t : d_tracks) {
        nearest = std::min<uint64_t>(nearest, t.next + t.corr->input_span());
        if (!t.waiting.empty())
            nearest = std::min<uint64_t>(nearest, t.waiting.front().index + t.span + k_pad);
    }
    const uint64_t want = std::max<uint64_t>(d_ingested + 1, nearest);
    const uint64_t need = want + 1 > read ? want + 1 - read : 1;
    ninput_items_required[0] =
        static_cast<int>(std::min<uint64_t>(need, static_cast<uint64_t>(cap))) + static_cast<int>(history()) - 1;
}

int preamble_detector_cc_impl::general_work(int noutput_items,
                                            gr_vector_int& ninput_items,
                                            gr_vector_const_void_star& input_items,
                                            gr_vector_void_star& output_items)
{
    gr::thread::scoped_lock lock(d_setlock);
    const gr_complex* in = static_cast<const gr_complex*>(input_items[0]);
    gr_complex* out = static_cast<gr_complex*>(output_items[0]);
    const uint64_t nread = nitems_read(0);
    const int nin = ninput_items[0];
    // input_items[0] starts with history() - 1 items already consumed
    const int hist = static_cast<int>(history()) - 1;
    in += hist;
    const uint64_t avail_end = nread + static_cast<uint64_t>(std::max(nin - hist, 0));
    const bool eof = input_finished(nin);
    // keep the last item unconsumed until the end (see the class comment)
    const uint64_t limit = eof ? avail_end : (avail_end > nread ? avail_end - 1 : nread);
    const size_t nout = static_cast<size_t>(noutput_items);

    size_t produced = 0;
    for (;;) {
        produced += release(out + produced, nout - produced);
        if (d_ingested >= limit)
            break;
        if (room() < d_chunk)
            compact();
        const size_t n = static_cast<size_t>(
            std::min<uint64_t>(std::min<uint64_t>(d_chunk, room()), limit - d_ingested));
        if (n == 0)
            break;
        ingest(in + (d_ingested - nread), n);
    }
    if (eof && d_ingested == avail_end && !d_flushed) {
        flush();
        produced += release(out + produced, nout - produced);
    }

    uint64_t consume_to = d_ingested;
    const bool all_done = d_flushed && d_released == d_ingested;
    if (!all_done && consume_to == avail_end && consume_to > nread)
        consume_to--;
    consume_each(static_cast<int>(consume_to - nread));
    d_release_cache = release_point();
    return static_cast<int>(produced);
}

} // namespace cohere
} // namespace gr
