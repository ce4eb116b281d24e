/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_PREAMBLE_DETECTOR_CC_IMPL_H
#define INCLUDED_COHERE_PREAMBLE_DETECTOR_CC_IMPL_H

#include "kernels/correlator.h"
#include "kernels/detection_metric.h"
#include "kernels/peak_picker.h"
#include "kernels/preamble_fit.h"
#include "kernels/screened_metric.h"
#include <gnuradio/cohere/preamble_detector_cc.h>
#include <volk/volk_alloc.hh>
#include <atomic>
#include <chrono>
#include <memory>

namespace gr {
namespace cohere {

/*
 * Stream handling. The block is a 1:1 gr::block (general_work) rather than a
 * sync_block because a detection at sample p is final only about 2 N samples
 * later, and the tag must land on the output sample p itself without delaying
 * the stream (a sync_block with history would shift every sample by N - 1,
 * as digital.corr_est_cc does). So input is consumed as soon as it has been
 * analysed and held in an internal delay line (d_buf) until no detection can
 * still fall on it (the release point). The last input item stays unconsumed
 * until the end of the stream, so the scheduler calls us once more after the
 * upstream block is done, and we flush. forecast() asks for enough new input
 * to complete the next FFT block, so the scheduler waits for input instead of
 * calling us for nothing (and 1 item at the end or when output is ready).
 * The delay line is also the analysis buffer: it keeps the raw samples (for
 * the output) with the energies of fixed blocks of them, and the analysis
 * zeroes non-finite samples on the fly (copies for the FFT of a step and for
 * a fit where a block has any; the energies count them as 0).
 * set_history() is used only to make GNU Radio size the upstream buffer
 * large: general_work() skips the history() - 1 old items at the front.
 */
class preamble_detector_cc_impl : public preamble_detector_cc
{
public:
    preamble_detector_cc_impl(const std::vector<std::vector<gr_complex>>& preambles,
                              double threshold,
                              double samp_rate);
    ~preamble_detector_cc_impl() override;

    void set_threshold(double threshold) override;
    double threshold(int preamble) const override;
    double default_threshold(int preamble) const override;
    int num_preambles() const override { return static_cast<int>(d_tracks.size()); }
    int preamble_length(int preamble) const override;
    int repetition_period(int preamble) const override;
    double samp_rate() const override { return d_samp_rate; }
    uint64_t nonfinite_count() const override { return d_nonfinite; }
    uint64_t detection_count() const override { return d_detections; }
    int max_delay() const override { return static_cast<int>(d_max_delay); }

    void forecast(int noutput_items, gr_vector_int& ninput_items_required) override;
    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;

private:
    // per preamble
    struct track {
        track(const std::vector<gr_complex>& p, float threshold, size_t block);
        size_t len;
        // The picker sees window starts from -(len - 1) on (the stream
        // preceded by zeros), so its indices are stream indices + len.
        std::vector<float> prestream; // metric of the starts -(len - 1) .. -1
                                      // (and, at the end, of the last len - 1)
        bool prestream_done = false;
        std::unique_ptr<kernels::correlator> corr;
        kernels::screened_metric metric;
        kernels::preamble_fit fit;
        float norm2; // ||p||^2
        double centroid; // sum k |p[k]|^2 / ||p||^2: where an aperiodic fit's phase holds
        size_t span; // shifts tried for periodic preambles (fit.span())
        kernels::peak_picker picker;
        double default_threshold;
        // how each other preamble shows on this one's correlator
        // (kernels::cross_metric; the entry of this preamble itself unused)
        std::vector<kernels::cross_leak> leaks;
        uint64_t next = 0;                 // next metric index to compute
        bool have_last = false;            // last reported start (duplicate guard)
        int64_t last_start = 0;
        std::vector<kernels::peak> waiting; // final peaks waiting for samples to fit
    };
    struct detection {
        uint64_t offset;
        int preamble;
        kernels::sync_fit fit;
    };

    void _set_threshold(double threshold);
    void ingest(const gr_complex* in, size_t n);
    void analyse(track& t, size_t id, bool flushing);
    void fit_waiting(track& t, size_t id, bool flushing);
    void analyse_prestream(track& t);
    void analyse_poststream(track& t);
    void take_found(track& t);
    static uint64_t pending_start(const track& t);
    void flush();
    uint64_t release_point() const;
    void compact();
    size_t room() const;
    const gr_complex* clean(int64_t from, size_t n);
    size_t release(gr_complex* out, size_t max_items);
    void emit(const detection& det);
    bool input_finished(int ninput);

    std::vector<track> d_tracks;
    const double d_samp_rate;
    size_t d_max_len = 0;
    size_t d_max_span = 0;
    int64_t d_lead = 0;   // zeros kept before the stream start
    size_t d_history = 0; // analysis samples kept behind the newest one (bound)
    size_t d_max_delay = 0;
    size_t d_chunk = 0;   // samples ingested per step

    // delay line and analysis buffer: raw samples, d_buf[i] is absolute
    // index d_base + i (negative indices are zeros before the stream start,
    // zeros follow the last sample at the end); d_base is a multiple of
    // d_block, d_bsum[k] / d_bbad[k] are the energy / the non-finite count of
    // the samples d_buf[k B .. k B + B - 1] (block_energy)
    volk::vector<gr_complex> d_buf; // aligned: full correlator steps read it in place
    std::vector<double> d_bsum;
    std::vector<uint32_t> d_bbad;
    size_t d_block = 0;
    size_t d_tail = 0;     // room kept for the zeros after the last sample
    int64_t d_base = 0;
    uint64_t d_ingested = 0; // absolute index of the next sample to ingest
    uint64_t d_released = 0; // == nitems_written(0)

    // scratch, sized once
    volk::vector<gr_complex> d_clean; // sanitized copies
    std::vector<kernels::peak> d_found;

    std::vector<detection> d_pending; // fitted, sorted by offset, not tagged yet
    uint64_t d_release_cache = 0;
    bool d_flushed = false;
    std::atomic<uint64_t> d_nonfinite{ 0 };
    std::atomic<uint64_t> d_detections{ 0 };
    std::chrono::steady_clock::time_point d_last_nonfinite_log;

    const pmt::pmt_t d_tag_key, d_port, d_k_index, d_k_phase, d_k_phase_at, d_k_amp, d_k_snr,
        d_k_cfo, d_k_preamble, d_k_time, d_id;
};

} // namespace cohere
} // namespace gr

#endif
