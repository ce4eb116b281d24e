/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_CHANNEL_HUB_IMPL_H
#define INCLUDED_COHERE_CHANNEL_HUB_IMPL_H

#include "kernels/link_filter.h"
#include "kernels/normal_stream.h"
#include "kernels/oscillator.h"
#include "kernels/rng.h"
#include <gnuradio/cohere/channel_hub.h>
#include <gnuradio/logger.h>
#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>

namespace gr {
namespace cohere {

/*!
 * \brief One link as a receiver sees it: which transmitter, the FIR (or, with
 * SFO, the time-varying paths), the air gain matrix and the mobility phase.
 */
struct hub_rx_link {
    int tx = 0;
    bool self_leak = false; // half-duplex self path (not a propagation link)
    kernels::link_fir fir;  // static delay/multipath
    // SFO: input index of path p for output n is a * n + b[p]
    bool sfo = false;
    double sfo_a = 1.0;
    std::vector<double> sfo_b;
    std::vector<gr_complex> sfo_g;
    // The TX ring holds the signal after the TX LO (w rad per TX sample), but
    // a fractional delay must interpolate the signal before it and take the
    // LO phase at the emission time: sfo_mod[i] = exp(-j w (i - H + 1)) for
    // the interpolator's sample i, sfo_rot[p] = exp(+j w p / P) for its
    // phase p (empty when w = 0). The static FIR has this built in.
    std::vector<gr_complex> sfo_mod;
    std::vector<gr_complex> sfo_rot;
    std::vector<gr_complex> gain; // nrx x ntx, row-major
    double doppler_w = 0.0;       // rad / sample
    std::complex<double> doppler_rot{ 1.0, 0.0 };
    std::complex<double> doppler_step{ 1.0, 0.0 };

    int64_t newest_needed(int64_t n) const;
    int64_t oldest_needed(int64_t n) const;
};

class channel_hub_impl : public channel_hub
{
public:
    channel_hub_impl(int num_nodes,
                     double samp_rate,
                     double center_freq,
                     uint64_t seed,
                     const std::vector<int>& antennas);
    ~channel_hub_impl() override;

    int num_nodes() const override { return d_num_nodes; }
    int num_antennas(int node) const override;
    double samp_rate() const override { return d_fs; }
    double center_freq() const override { return d_fc; }
    uint64_t seed() const override { return d_seed; }

    void set_ppm(int node, double ppm) override;
    double ppm(int node) const override;
    void set_phase_noise(int node, double c) override;
    double phase_noise(int node) const override;
    void set_initial_phase(int node, double phase) override;
    double initial_phase(int node) const override;
    void set_sfo_enabled(bool enabled) override;
    bool sfo_enabled() const override;

    void set_tx_gains(int node, const std::vector<gr_complex>& gains) override;
    void set_rx_gains(int node, const std::vector<gr_complex>& gains) override;
    void set_chain_gain_spread(double amplitude_std_db, double phase_spread) override;
    std::vector<gr_complex> tx_gains(int node) const override;
    std::vector<gr_complex> rx_gains(int node) const override;

    void set_noise_power(int node, double power) override;
    double noise_power(int node) const override;
    void set_half_duplex(bool enabled, double leakage_db) override;

    void set_link_gain(int tx, int rx, const std::vector<gr_complex>& gain) override;
    void set_link_delay(int tx, int rx, double delay) override;
    void set_link_taps(int tx,
                       int rx,
                       const std::vector<double>& delays,
                       const std::vector<gr_complex>& gains) override;
    void set_positions(const std::vector<double>& x, const std::vector<double>& y) override;
    void set_path_loss(double exponent,
                       double ref_loss_db,
                       double ref_distance,
                       double shadowing_db) override;
    void set_rayleigh(bool enabled) override;
    void set_velocity(int node, double speed, double angle) override;
    void set_buffer_size(size_t samples) override;
    void set_latency(int node, int64_t samples) override;
    int64_t latency(int node) const override;

    double retune(int node, uint64_t at) override;

    std::vector<double> lo_phase(int node, uint64_t start, size_t count) override;
    double lo_frequency(int node) const override;
    std::vector<gr_complex> link_gain(int tx, int rx) override;
    double link_delay(int tx, int rx) override;
    void enable_capture(int rx_node, size_t max_samples) override;
    std::vector<gr_complex>
    captured(int rx_node, int tx_node, int rx_antenna, uint64_t& start) override;

    void attach_sink(int node, int nchan) override;
    void detach_sink(int node) override;
    void attach_source(int node, int nchan) override;
    void detach_source(int node) override;
    size_t write_tx(int node,
                    const std::vector<const gr_complex*>& in,
                    size_t n,
                    int timeout_ms,
                    uint64_t& nonfinite) override;
    void finish_tx(int node) override;
    size_t read_rx(int node,
                   const std::vector<gr_complex*>& out,
                   size_t n,
                   int timeout_ms) override;
    void finish_rx(int node) override;
    bool receivers_done() override;
    uint64_t tx_position(int node) override;
    uint64_t rx_position(int node) override;

private:
    struct node_config {
        int nant = 1;
        double ppm = 0.0;
        double phase_noise = 0.0;
        double initial_phase = 0.0; // drawn from the seed unless set
        std::vector<gr_complex> tx_gain, rx_gain;
        bool tx_gain_set = false, rx_gain_set = false;
        double noise_power = 0.0;
        double speed = 0.0, angle = 0.0;
        int64_t latency = 0;
        std::vector<std::pair<uint64_t, double>> retunes;
    };
    struct link_config {
        bool gain_set = false;
        std::vector<gr_complex> gain; // nrx x ntx of this direction
        bool delay_set = false;
        double delay = 0.0;
        std::vector<double> tap_delays;
        std::vector<gr_complex> tap_gains;
    };
    /*!
     * One oscillator per node drives its TX and RX: exp(j phi[n]) is generated
     * once, by whichever side needs index n first, and kept in a ring for the
     * other side. A request older than the ring (one side lagging the other by
     * more than buffer_size) is served by regenerating from a second instance.
     */
    struct lo_track {
        std::mutex mutex;
        std::unique_ptr<kernels::oscillator> osc;
        std::vector<gr_complex> ring;
        uint64_t generated = 0;
        std::unique_ptr<kernels::oscillator> fallback;
        std::vector<gr_complex> skip; // scratch for advancing the fallback
    };
    struct tx_state {
        std::vector<std::vector<gr_complex>> ring; // per antenna
        std::vector<gr_complex> rot;
        uint64_t written = 0;
        bool attached = false;
        bool finished = false;
    };
    struct rx_state {
        std::vector<hub_rx_link> links;
        std::vector<kernels::normal_stream> noise; // per antenna
        float noise_std = 0.0f;
        uint64_t next = 0;
        bool attached = false;
        bool finished = false;
        // scratch, sized at freeze
        std::vector<gr_complex> rot, window, filtered;
        std::vector<std::vector<gr_complex>> acc, link_acc;
        std::vector<uint8_t> acc_fresh; // acc[b] holds zeros not written yet
        std::vector<uint8_t> transmitting;
        std::vector<uint64_t> written_snap; // TX positions seen when a chunk started
        // single-tap terms waiting for one fused pass per receive antenna
        struct ring_term {
            const gr_complex* ring; // TX ring of one antenna
            int64_t lo;             // input index of output 0
            int64_t first, last;    // output range [first, last) with input
            gr_complex gain;
        };
        std::vector<std::vector<ring_term>> terms; // [rx antenna]
        std::vector<const gr_complex*> term_x;     // one segment's active inputs
        std::vector<gr_complex> term_g;
        // stall diagnostics
        bool stalled = false;
        std::chrono::steady_clock::time_point stalled_since, last_stall_warning;
        // capture: [link][antenna] rings
        size_t capture_size = 0;
        uint64_t captured_count = 0;
        std::vector<std::vector<std::vector<gr_complex>>> capture;
    };

    std::unique_ptr<kernels::oscillator> make_oscillator_locked(int node) const;
    //! exp(+j phi_node[n]) for n = n0 .. n0 + m - 1 (any thread).
    void lo_phasors(int node, uint64_t n0, size_t m, gr_complex* out);
    //! use(lo, k, len) with exp(+j phi_node[n0 + k ..]) in contiguous parts of
    //! the node's LO ring (or of scratch, m samples, when this side lags it),
    //! under the LO's lock: no copy for the usual case.
    template <typename F>
    void with_lo(int node, uint64_t n0, size_t m, gr_complex* scratch, F&& use);
    void check_node(int node, const char* what) const;
    void check_configurable(const char* what) const;
    void freeze_locked();
    void freeze_checked_locked();
    void build_links_locked();
    std::vector<gr_complex> air_gain_locked(int tx, int rx);
    double air_delay_locked(int tx, int rx);
    int64_t tail_locked(int node) const;
    int64_t rx_available_locked(int node) const;
    void report_stall_locked(int node);
    //! Copy TX samples lo .. lo+len-1 of (tx, ant); zeros outside 0 .. written-1.
    void fill_window(int tx, int ant, int64_t lo, size_t len, uint64_t written, gr_complex* dst) const;
    void compute_rx_chunk(int node, uint64_t n0, size_t m, const std::vector<gr_complex*>& out, size_t offset);
    //! Queue sum[b] += gain[b, ant] * tap * x_ant[n - k0] for a single-tap link.
    void queue_ring_terms(rx_state& rx, const hub_rx_link& link, int ant, int nrx, int ntx,
                          uint64_t n0, size_t m, uint64_t written) const;
    //! Add the queued terms to sum[b] (in queue order, so the bits do not
    //! change). With fresh (rx.acc_fresh for sum = rx.acc), a sum[b] marked
    //! fresh is taken as zeros without a zeroing pass and written whole.
    void flush_ring_terms(rx_state& rx, int nrx, size_t m,
                          std::vector<std::vector<gr_complex>>& sum,
                          uint8_t* fresh = nullptr) const;
    void apply_link(rx_state& rx, const hub_rx_link& link, int ant, uint64_t n0, size_t m,
                    uint64_t written, gr_complex* y);

    const int d_num_nodes;
    const double d_fs;
    const double d_fc;
    const uint64_t d_seed;
    gr::logger_ptr d_logger, d_debug_logger;

    mutable std::mutex d_mutex;
    // Waiters sleep on their own node's condition variable and are woken only
    // when a node they depend on moves (no thundering herd of 2N threads).
    std::vector<std::unique_ptr<std::condition_variable>> d_tx_cv, d_rx_cv;
    std::vector<uint8_t> d_tx_waiting, d_rx_waiting;
    std::vector<std::vector<int>> d_listeners; // tx node -> rx nodes that hear it
    std::vector<std::vector<int>> d_speakers;  // rx node -> tx nodes it hears
    void wake_all_locked();
    void wake_listeners_locked(int tx_node);
    void wake_speakers_locked(int rx_node);
    bool d_frozen = false;
    std::string d_failure; // why streaming could not start (empty: it could)
    bool d_had_source = false;

    std::vector<node_config> d_nodes;
    std::map<std::pair<int, int>, link_config> d_links; // (tx, rx)
    bool d_sfo = false;
    double d_gain_std_db = 1.0, d_gain_phase_spread = M_PI;
    bool d_half_duplex = false;
    double d_leakage_db = -INFINITY;
    bool d_has_positions = false;
    std::vector<double> d_x, d_y;
    double d_pl_exponent = 2.0, d_pl_ref_db = 40.0, d_pl_ref_dist = 1.0, d_shadowing_db = 0.0;
    bool d_rayleigh = false;
    // 32768 by default: a ring twice as long lets transmitters run further
    // ahead of the receivers, whose reads then miss the cache more often
    // (measured with ./cohere bench emulator: N = 8 about 5 % and N = 32
    // about 12 % slower at 65536, more at 131072; 16384 costs more thread
    // hand-offs)
    size_t d_ring_size = 1 << 15;
    size_t d_ring_mask = (1 << 15) - 1;
    std::map<int, size_t> d_capture_requests;

    // drawn once (at construction or first use) so configuration order does not matter
    std::map<std::pair<int, int>, std::vector<gr_complex>> d_small_scale; // key (min, max)
    std::map<std::pair<int, int>, double> d_shadowing;

    std::vector<std::unique_ptr<lo_track>> d_lo;
    std::vector<tx_state> d_tx;
    std::vector<rx_state> d_rx;
    // Ground truth: one oscillator per node replaying its LO, used under
    // d_probe_mutex only (taken before d_mutex), so that a long replay never
    // holds the streams up; d_probe_stale (under d_mutex) asks for a new one.
    std::mutex d_probe_mutex;
    std::vector<std::unique_ptr<kernels::oscillator>> d_probe;
    std::vector<uint8_t> d_probe_stale;
    std::vector<kernels::xoshiro256> d_retune_rng;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_CHANNEL_HUB_IMPL_H */
