/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_BURST_SCHEDULER_CC_IMPL_H
#define INCLUDED_COHERE_BURST_SCHEDULER_CC_IMPL_H

#include "kernels/burst_queue.h"
#include "message_fields.h"
#include <gnuradio/cohere/burst_scheduler_cc.h>
#include <atomic>
#include <map>
#include <memory>
#include <mutex>

namespace gr {
namespace cohere {

class burst_scheduler_cc_impl : public burst_scheduler_cc
{
public:
    burst_scheduler_cc_impl(double samp_rate,
                            int lookahead,
                            int latency,
                            int max_pending,
                            const std::vector<gr_complex>& echo_waveform,
                            int64_t echo_offset,
                            int64_t echo_preamble,
                            const std::string& echo_phase_mode,
                            double echo_phase);

    void set_echo(const std::vector<gr_complex>& waveform,
                  int64_t offset,
                  int64_t preamble,
                  const std::string& phase_mode,
                  double phase) override;
    void clear_echo(int64_t preamble) override;
    std::vector<int64_t> echo_preambles() const override;
    int64_t echo_preamble() const override;
    std::vector<gr_complex> echo_waveform() const override;
    int64_t echo_offset() const override;
    std::string echo_phase_mode() const override;
    double echo_phase() const override;
    std::vector<gr_complex> echo_waveform(int64_t preamble) const override;
    int64_t echo_offset(int64_t preamble) const override;
    int64_t echo_time(int64_t preamble) const override;
    std::string echo_phase_mode(int64_t preamble) const override;
    double echo_phase(int64_t preamble) const override;
    gr_complexd echo_gain(int64_t preamble) const override;
    double echo_amp_scale(int64_t preamble) const override;
    bool echo_once(int64_t preamble) const override;
    void set_tx_time_offset(uint64_t full_secs, double frac_secs) override;

    double samp_rate() const override { return d_fs; }
    int lookahead() const override { return d_lookahead; }
    int latency() const override { return d_latency; }
    int max_pending() const override { return d_max_pending; }
    uint64_t late_count() const override { return d_late; }
    uint64_t dropped_count() const override { return d_dropped; }
    uint64_t scheduled_count() const override { return d_scheduled; }
    size_t pending() const override { return d_pending; }
    bool stalled() const override { return d_stalled; }

    void forecast(int noutput_items, gr_vector_int& ninput_items_required) override;
    int general_work(int noutput_items,
                     gr_vector_int& ninput_items,
                     gr_vector_const_void_star& input_items,
                     gr_vector_void_star& output_items) override;

private:
    enum class phase_mode { plus, minus, fixed };
    typedef kernels::burst_queue::samples_ptr samples_ptr;

    struct burst_spec {
        uint64_t time; // on-air RX time T
        samples_ptr samples;
        gr_complex gain;
    };
    struct decision {
        pmt::pmt_t event;
        bool has_burst;
        burst_spec burst;
    };
    //! One entry of the echo table (see the header); defaults = a new entry.
    struct echo_entry {
        samples_ptr waveform;       // non-empty for entries in the table
        int64_t offset = 0;         // relative mode: T = round(index) + offset
        int64_t time = -1;          // absolute mode (>= 0): T = time
        phase_mode mode = phase_mode::plus;
        double phase = 0.0;         // rotation in mode fixed
        gr_complexd gain{ 1.0, 0.0 };
        double amp_scale = 0.0;     // > 0: also times amp_scale * the tag's amp
        bool once = false;          // removed when triggered
    };
    typedef std::map<int64_t, echo_entry> echo_table;

    //! The entry built from set_echo()'s arguments (null waveform when
    //! empty); errors name them with the prefix \p names.
    echo_entry checked_echo(const std::vector<gr_complex>& waveform,
                            int64_t offset,
                            int64_t preamble,
                            const std::string& mode,
                            double phase,
                            const std::string& names) const;
    //! Why e is invalid (empty if valid); \p names prefixes the argument
    //! names: "echo_" for the constructor's, "" for set_echo's and the
    //! message fields.
    std::string echo_error(const echo_entry& e, const std::string& names) const;
    //! The entry of \p preamble or a new entry's defaults (caller holds d_echo_mutex).
    echo_entry find_echo(int64_t preamble) const;
    echo_entry echo_of(int64_t preamble) const; // locks
    echo_entry default_echo() const;           // locks; the entry of d_echo_preamble
    static bool parse_mode(const std::string& name, phase_mode& mode);
    static std::string mode_name(phase_mode mode);
    bool parse_burst(const pmt::pmt_t& pdu, burst_spec& out, std::string& error) const;
    //! A name for logs with its symbol interned once, for messages.
    struct label {
        const char* text;
        pmt::pmt_t symbol;
        explicit label(const char* t) : text(t), symbol(pmt::intern(t)) {}
    };

    void schedule(const burst_spec& b, const label& source);
    void report_drop(const burst_spec& b, const label& reason, const label& source, bool late);
    void warn_malformed(const std::string& what, const pmt::pmt_t& msg);

    void handle_burst(const pmt::pmt_t& msg);
    void handle_decision(const pmt::pmt_t& msg);
    void handle_echo(const pmt::pmt_t& msg);
    void handle_peak(const gr::tag_t& tag);
    bool resolve_pending(const gr::tag_t& tag);
    void emit(gr_complex* out, size_t n);
    pmt::pmt_t tx_time(uint64_t index) const;

    const double d_fs;
    const int d_lookahead, d_latency, d_max_pending;
    kernels::burst_queue d_queue;
    std::vector<kernels::burst_queue::edge> d_edges;
    std::vector<decision> d_decisions; // early decisions, arrival order
    std::vector<gr::tag_t> d_tags;

    // guards d_echoes and d_echo_preamble (setters and getters from any thread);
    // never held while logging or scheduling
    mutable std::mutex d_echo_mutex;
    echo_table d_echoes;
    int64_t d_echo_preamble; // the default entry (constructor, last set_echo())
    uint64_t d_time_secs = 0;
    double d_time_frac = 0.0;

    // tags at one RX index already handled before a stall there
    uint64_t d_resume_offset = UINT64_MAX;
    size_t d_resume_done = 0;
    pmt::pmt_t d_waiting_event;

    std::atomic<uint64_t> d_late{ 0 }, d_dropped{ 0 }, d_scheduled{ 0 };
    std::atomic<size_t> d_pending{ 0 };
    std::atomic<bool> d_stalled{ false };
    log_limiter d_drop_log;
    const label d_late_reason{ "late" }, d_full_reason{ "queue full" };
    const label d_from_burst{ "burst" }, d_from_decision{ "decision" }, d_from_echo{ "echo" };

    const pmt::pmt_t d_burst_port, d_decision_port, d_echo_port, d_late_port;
    const pmt::pmt_t d_sync_peak_key, d_pending_key, d_echo_tag_key, d_burst_tag_key, d_sob_key,
        d_eob_key, d_tx_time_key;
    const pmt::pmt_t d_time_key, d_phase_key, d_gain_key, d_index_key, d_preamble_key,
        d_event_key, d_burst_key, d_none_key, d_waveform_key, d_offset_key, d_mode_key,
        d_amp_key, d_amp_scale_key, d_once_key, d_clear_key, d_tx_index_key, d_frontier_key,
        d_reason_key, d_source_key, d_id;
};

} // namespace cohere
} // namespace gr

#endif
