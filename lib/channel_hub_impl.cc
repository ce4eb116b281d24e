/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "channel_hub_impl.h"
#include "kernels/vector_ops.h"
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {

namespace {
constexpr double speed_of_light = 299792458.0;
constexpr size_t chunk_max = 4096;
constexpr int sfo_half_len = 16;
constexpr int sfo_phases = 1024;
constexpr double max_abs_ppm = 1000.0;
// The ring holds a chunk being written and a chunk's receive window (a chunk
// plus SFO drift and the interpolator): the smallest power of two for that.
constexpr size_t min_ring = 16384;
static_assert(min_ring >= 2 * chunk_max + chunk_max / 256 + 2 * sfo_half_len + 2 + 8,
              "min_ring must hold two chunks and an interpolator");

// Labels of the independent random streams derived from the seed.
enum stream_label : uint64_t {
    S_INIT_PHASE = 1,
    S_OSC,
    S_TX_GAIN,
    S_RX_GAIN,
    S_NOISE,
    S_SMALL_SCALE,
    S_SHADOWING,
    S_RETUNE,
};

std::string num(double v) { return fmt::format("{:g}", v); }
std::string cnum(gr_complex v) { return fmt::format("({:g}{:+g}j)", v.real(), v.imag()); }

// Polyphase windowed-sinc table for the SFO interpolator: row p holds the
// 2H weights for fractional position p / P (see kernels::windowed_sinc_taps).
const std::vector<float>& sfo_table()
{
    static const std::vector<float> table = [] {
        const size_t row = 2 * sfo_half_len;
        std::vector<float> t(static_cast<size_t>(sfo_phases) * row);
        std::vector<double> w(row);
        for (int p = 0; p < sfo_phases; p++) {
            kernels::windowed_sinc_taps(static_cast<double>(p) / sfo_phases, sfo_half_len, w.data());
            for (size_t i = 0; i < row; i++)
                t[p * row + i] = static_cast<float>(w[i]);
        }
        return t;
    }();
    return table;
}
} // namespace

// ---------------------------------------------------------------------------
// hub_rx_link
// ---------------------------------------------------------------------------

int64_t hub_rx_link::newest_needed(int64_t n) const
{
    if (!sfo)
        return n - fir.newest_offset();
    const double bmax = *std::max_element(sfo_b.begin(), sfo_b.end());
    return static_cast<int64_t>(std::floor(sfo_a * static_cast<double>(n) + bmax)) + sfo_half_len;
}

int64_t hub_rx_link::oldest_needed(int64_t n) const
{
    if (!sfo)
        return n - fir.oldest_offset();
    const double bmin = *std::min_element(sfo_b.begin(), sfo_b.end());
    return static_cast<int64_t>(std::floor(sfo_a * static_cast<double>(n) + bmin)) - sfo_half_len + 1;
}

// ---------------------------------------------------------------------------
// construction and configuration
// ---------------------------------------------------------------------------

channel_hub::sptr channel_hub::make(int num_nodes,
                                    double samp_rate,
                                    double center_freq,
                                    uint64_t seed,
                                    const std::vector<int>& antennas)
{
    return std::make_shared<channel_hub_impl>(num_nodes, samp_rate, center_freq, seed, antennas);
}

channel_hub_impl::channel_hub_impl(int num_nodes,
                                   double samp_rate,
                                   double center_freq,
                                   uint64_t seed,
                                   const std::vector<int>& antennas)
    : d_num_nodes(num_nodes), d_fs(samp_rate), d_fc(center_freq), d_seed(seed)
{
    gr::configure_default_loggers(d_logger, d_debug_logger, "channel_hub");
    if (num_nodes < 1 || num_nodes > 64)
        throw std::invalid_argument("channel_hub: num_nodes must be in 1..64, got " +
                                    std::to_string(num_nodes));
    if (!(samp_rate > 0) || !std::isfinite(samp_rate))
        throw std::invalid_argument("channel_hub: samp_rate must be > 0, got " + num(samp_rate));
    if (!(center_freq > 0) || !std::isfinite(center_freq))
        throw std::invalid_argument("channel_hub: center_freq must be > 0, got " +
                                    num(center_freq));
    if (antennas.size() != 1 && antennas.size() != static_cast<size_t>(num_nodes))
        throw std::invalid_argument("channel_hub: antennas must have 1 or num_nodes (" +
                                    std::to_string(num_nodes) + ") entries, got " +
                                    std::to_string(antennas.size()));
    d_nodes.resize(num_nodes);
    for (int i = 0; i < num_nodes; i++) {
        const int nant = antennas.size() == 1 ? antennas[0] : antennas[i];
        if (nant < 1 || nant > 8)
            throw std::invalid_argument("channel_hub: antennas of node " + std::to_string(i) +
                                        " must be in 1..8, got " + std::to_string(nant));
        d_nodes[i].nant = nant;
        kernels::xoshiro256 g(kernels::derive_seed(seed, S_INIT_PHASE, i));
        d_nodes[i].initial_phase = (2.0 * g.uniform() - 1.0) * M_PI;
        d_retune_rng.emplace_back(kernels::derive_seed(seed, S_RETUNE, i));
    }
    for (int i = 0; i < num_nodes; i++) {
        d_lo.push_back(std::make_unique<lo_track>());
        d_tx_cv.push_back(std::make_unique<std::condition_variable>());
        d_rx_cv.push_back(std::make_unique<std::condition_variable>());
    }
    d_tx_waiting.assign(num_nodes, 0);
    d_rx_waiting.assign(num_nodes, 0);
    d_listeners.resize(num_nodes);
    d_speakers.resize(num_nodes);
    d_tx.resize(num_nodes);
    d_rx.resize(num_nodes);
    d_probe.resize(num_nodes);
    d_probe_stale.assign(num_nodes, 1);
}

channel_hub_impl::~channel_hub_impl() = default;

void channel_hub_impl::check_node(int node, const char* what) const
{
    if (node < 0 || node >= d_num_nodes)
        throw std::invalid_argument(std::string("channel_hub: ") + what + ": unknown node " +
                                    std::to_string(node) + " (nodes are 0.." +
                                    std::to_string(d_num_nodes - 1) + ")");
}

void channel_hub_impl::check_configurable(const char* what) const
{
    if (d_frozen)
        throw std::logic_error(std::string("channel_hub: ") + what +
                               ": configuration is frozen once streaming has started");
}

int channel_hub_impl::num_antennas(int node) const
{
    check_node(node, "num_antennas");
    return d_nodes[node].nant;
}

void channel_hub_impl::set_ppm(int node, double ppm)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_ppm");
    check_configurable("set_ppm");
    if (!std::isfinite(ppm) || std::abs(ppm) > max_abs_ppm)
        throw std::invalid_argument("channel_hub: ppm of node " + std::to_string(node) +
                                    " must be finite and within +-1000, got " + num(ppm));
    d_nodes[node].ppm = ppm;
}

double channel_hub_impl::ppm(int node) const
{
    check_node(node, "ppm");
    return d_nodes[node].ppm;
}

void channel_hub_impl::set_phase_noise(int node, double c)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_phase_noise");
    check_configurable("set_phase_noise");
    if (!std::isfinite(c) || c < 0)
        throw std::invalid_argument("channel_hub: phase_noise of node " + std::to_string(node) +
                                    " must be >= 0, got " + num(c));
    // the oscillator's limit: increment std sqrt(4 pi^2 fc^2 c / fs) <= 2 rad
    const double c_max = 4.0 * d_fs / (4.0 * M_PI * M_PI * d_fc * d_fc);
    if (c > c_max)
        throw std::invalid_argument("channel_hub: phase_noise of node " + std::to_string(node) +
                                    " must be <= " + num(c_max) +
                                    " (a per-sample phase increment std of 2 rad), got " +
                                    num(c));
    d_nodes[node].phase_noise = c;
}

double channel_hub_impl::phase_noise(int node) const
{
    check_node(node, "phase_noise");
    return d_nodes[node].phase_noise;
}

void channel_hub_impl::set_initial_phase(int node, double phase)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_initial_phase");
    check_configurable("set_initial_phase");
    if (!std::isfinite(phase))
        throw std::invalid_argument("channel_hub: initial_phase of node " +
                                    std::to_string(node) + " must be finite, got " + num(phase));
    d_nodes[node].initial_phase = kernels::wrap_phase(phase);
}

double channel_hub_impl::initial_phase(int node) const
{
    check_node(node, "initial_phase");
    return d_nodes[node].initial_phase;
}

void channel_hub_impl::set_sfo_enabled(bool enabled)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_sfo_enabled");
    d_sfo = enabled;
}

bool channel_hub_impl::sfo_enabled() const { return d_sfo; }

namespace {
void check_gains(const std::vector<gr_complex>& g, int nant, int node, const char* field)
{
    if (g.size() != static_cast<size_t>(nant))
        throw std::invalid_argument(std::string("channel_hub: ") + field + " of node " +
                                    std::to_string(node) + " needs " + std::to_string(nant) +
                                    " values (one per antenna), got " + std::to_string(g.size()));
    for (size_t a = 0; a < g.size(); a++)
        if (!std::isfinite(g[a].real()) || !std::isfinite(g[a].imag()))
            throw std::invalid_argument(std::string("channel_hub: ") + field + " of node " +
                                        std::to_string(node) + " must be finite, got " +
                                        cnum(g[a]) + " for antenna " + std::to_string(a));
}
} // namespace

void channel_hub_impl::set_tx_gains(int node, const std::vector<gr_complex>& gains)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_tx_gains");
    check_configurable("set_tx_gains");
    check_gains(gains, d_nodes[node].nant, node, "tx_gains");
    d_nodes[node].tx_gain = gains;
    d_nodes[node].tx_gain_set = true;
}

void channel_hub_impl::set_rx_gains(int node, const std::vector<gr_complex>& gains)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_rx_gains");
    check_configurable("set_rx_gains");
    check_gains(gains, d_nodes[node].nant, node, "rx_gains");
    d_nodes[node].rx_gain = gains;
    d_nodes[node].rx_gain_set = true;
}

void channel_hub_impl::set_chain_gain_spread(double amplitude_std_db, double phase_spread)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_chain_gain_spread");
    if (!std::isfinite(amplitude_std_db) || amplitude_std_db < 0)
        throw std::invalid_argument("channel_hub: chain gain amplitude_std_db must be >= 0, got " +
                                    num(amplitude_std_db));
    if (!std::isfinite(phase_spread) || phase_spread < 0 || phase_spread > M_PI)
        throw std::invalid_argument("channel_hub: chain gain phase_spread must be in [0, pi], got " +
                                    num(phase_spread));
    d_gain_std_db = amplitude_std_db;
    d_gain_phase_spread = phase_spread;
}

namespace {
std::vector<gr_complex> draw_chain_gains(uint64_t seed, int nant, double std_db, double spread)
{
    kernels::gaussian_rng g(seed);
    std::vector<gr_complex> out(nant);
    for (auto& v : out) {
        const double amp = std::pow(10.0, std_db * g() / 20.0);
        const double ph = (2.0 * g.uniform() - 1.0) * spread;
        v = gr_complex(static_cast<float>(amp * std::cos(ph)), static_cast<float>(amp * std::sin(ph)));
    }
    return out;
}
} // namespace

std::vector<gr_complex> channel_hub_impl::tx_gains(int node) const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "tx_gains");
    const auto& n = d_nodes[node];
    if (n.tx_gain_set)
        return n.tx_gain;
    return draw_chain_gains(kernels::derive_seed(d_seed, S_TX_GAIN, node), n.nant, d_gain_std_db,
                            d_gain_phase_spread);
}

std::vector<gr_complex> channel_hub_impl::rx_gains(int node) const
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "rx_gains");
    const auto& n = d_nodes[node];
    if (n.rx_gain_set)
        return n.rx_gain;
    return draw_chain_gains(kernels::derive_seed(d_seed, S_RX_GAIN, node), n.nant, d_gain_std_db,
                            d_gain_phase_spread);
}

void channel_hub_impl::set_noise_power(int node, double power)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_noise_power");
    check_configurable("set_noise_power");
    if (!std::isfinite(power) || power < 0)
        throw std::invalid_argument("channel_hub: noise_power of node " + std::to_string(node) +
                                    " must be >= 0, got " + num(power));
    d_nodes[node].noise_power = power;
}

double channel_hub_impl::noise_power(int node) const
{
    check_node(node, "noise_power");
    return d_nodes[node].noise_power;
}

void channel_hub_impl::set_half_duplex(bool enabled, double leakage_db)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_half_duplex");
    if (std::isnan(leakage_db) || leakage_db > 0 || leakage_db == INFINITY)
        throw std::invalid_argument("channel_hub: leakage_db must be <= 0 dB (or -inf), got " +
                                    num(leakage_db));
    d_half_duplex = enabled;
    d_leakage_db = leakage_db;
}

void channel_hub_impl::set_link_gain(int tx, int rx, const std::vector<gr_complex>& gain)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(tx, "set_link_gain (tx)");
    check_node(rx, "set_link_gain (rx)");
    check_configurable("set_link_gain");
    const int ntx = d_nodes[tx].nant, nrx = d_nodes[rx].nant;
    if (gain.size() != static_cast<size_t>(ntx * nrx))
        throw std::invalid_argument("channel_hub: link gain " + std::to_string(tx) + "->" +
                                    std::to_string(rx) + " needs " + std::to_string(nrx) + "x" +
                                    std::to_string(ntx) + " values, got " +
                                    std::to_string(gain.size()));
    for (size_t k = 0; k < gain.size(); k++)
        if (!std::isfinite(gain[k].real()) || !std::isfinite(gain[k].imag()))
            throw std::invalid_argument("channel_hub: link gain " + std::to_string(tx) + "->" +
                                        std::to_string(rx) + " must be finite, got " +
                                        cnum(gain[k]) + " at index " + std::to_string(k));
    if (tx == rx) {
        // a self link is its own reverse: reciprocity asks A = A^T
        for (int b = 0; b < nrx; b++)
            for (int a = b + 1; a < ntx; a++)
                if (gain[b * ntx + a] != gain[a * ntx + b])
                    throw std::invalid_argument(
                        "channel_hub: self link gain " + std::to_string(tx) + "->" +
                        std::to_string(rx) + " must be symmetric (the air is reciprocal), got " +
                        cnum(gain[b * ntx + a]) + " at [" + std::to_string(b) + "][" +
                        std::to_string(a) + "] and " + cnum(gain[a * ntx + b]) + " at [" +
                        std::to_string(a) + "][" + std::to_string(b) + "]");
    }
    auto& fwd = d_links[{ tx, rx }];
    fwd.gain = gain;
    fwd.gain_set = true;
    // the air is reciprocal: rx -> tx is the transpose
    auto& rev = d_links[{ rx, tx }];
    rev.gain.assign(gain.size(), gr_complex(0, 0));
    for (int b = 0; b < nrx; b++)
        for (int a = 0; a < ntx; a++)
            rev.gain[a * nrx + b] = gain[b * ntx + a];
    rev.gain_set = true;
}

void channel_hub_impl::set_link_delay(int tx, int rx, double delay)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(tx, "set_link_delay (tx)");
    check_node(rx, "set_link_delay (rx)");
    check_configurable("set_link_delay");
    if (!std::isfinite(delay) || delay < 0)
        throw std::invalid_argument("channel_hub: link delay " + std::to_string(tx) + "->" +
                                    std::to_string(rx) + " must be >= 0 samples, got " +
                                    num(delay));
    for (auto key : { std::make_pair(tx, rx), std::make_pair(rx, tx) }) {
        d_links[key].delay = delay;
        d_links[key].delay_set = true;
    }
}

void channel_hub_impl::set_link_taps(int tx,
                                     int rx,
                                     const std::vector<double>& delays,
                                     const std::vector<gr_complex>& gains)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(tx, "set_link_taps (tx)");
    check_node(rx, "set_link_taps (rx)");
    check_configurable("set_link_taps");
    if (delays.size() != gains.size())
        throw std::invalid_argument("channel_hub: link taps " + std::to_string(tx) + "->" +
                                    std::to_string(rx) + ": " + std::to_string(delays.size()) +
                                    " delays but " + std::to_string(gains.size()) + " gains");
    for (double d : delays)
        if (!std::isfinite(d) || d < 0)
            throw std::invalid_argument("channel_hub: link tap delay must be >= 0 samples, got " +
                                        num(d));
    for (const auto& g : gains)
        if (!std::isfinite(g.real()) || !std::isfinite(g.imag()))
            throw std::invalid_argument("channel_hub: link tap gain " + std::to_string(tx) + "->" +
                                        std::to_string(rx) + " must be finite, got " + cnum(g));
    for (auto key : { std::make_pair(tx, rx), std::make_pair(rx, tx) }) {
        d_links[key].tap_delays = delays;
        d_links[key].tap_gains = gains;
    }
}

void channel_hub_impl::set_positions(const std::vector<double>& x, const std::vector<double>& y)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_positions");
    if (x.size() != static_cast<size_t>(d_num_nodes) || y.size() != x.size())
        throw std::invalid_argument("channel_hub: positions need " +
                                    std::to_string(d_num_nodes) + " x and y values, got " +
                                    std::to_string(x.size()) + " and " + std::to_string(y.size()));
    for (size_t i = 0; i < x.size(); i++)
        if (!std::isfinite(x[i]) || !std::isfinite(y[i]))
            throw std::invalid_argument("channel_hub: position of node " + std::to_string(i) +
                                        " must be finite, got (" + num(x[i]) + ", " +
                                        num(y[i]) + ")");
    d_x = x;
    d_y = y;
    d_has_positions = true;
}

void channel_hub_impl::set_path_loss(double exponent,
                                     double ref_loss_db,
                                     double ref_distance,
                                     double shadowing_db)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_path_loss");
    if (!std::isfinite(exponent) || exponent < 0)
        throw std::invalid_argument("channel_hub: path loss exponent must be >= 0, got " +
                                    num(exponent));
    if (!std::isfinite(ref_loss_db))
        throw std::invalid_argument("channel_hub: ref_loss_db must be finite, got " +
                                    num(ref_loss_db));
    if (!(ref_distance > 0) || !std::isfinite(ref_distance))
        throw std::invalid_argument("channel_hub: ref_distance must be > 0, got " +
                                    num(ref_distance));
    if (!std::isfinite(shadowing_db) || shadowing_db < 0)
        throw std::invalid_argument("channel_hub: shadowing_db must be >= 0, got " +
                                    num(shadowing_db));
    d_pl_exponent = exponent;
    d_pl_ref_db = ref_loss_db;
    d_pl_ref_dist = ref_distance;
    d_shadowing_db = shadowing_db;
}

void channel_hub_impl::set_rayleigh(bool enabled)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_rayleigh");
    d_rayleigh = enabled;
}

void channel_hub_impl::set_velocity(int node, double speed, double angle)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_velocity");
    check_configurable("set_velocity");
    if (!std::isfinite(speed) || speed < 0)
        throw std::invalid_argument("channel_hub: speed of node " + std::to_string(node) +
                                    " must be >= 0 m/s, got " + num(speed));
    if (!std::isfinite(angle))
        throw std::invalid_argument("channel_hub: angle of node " + std::to_string(node) +
                                    " must be finite, got " + num(angle));
    d_nodes[node].speed = speed;
    d_nodes[node].angle = angle;
}

void channel_hub_impl::set_buffer_size(size_t samples)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_configurable("set_buffer_size");
    if (samples < min_ring || samples > (size_t(1) << 26))
        throw std::invalid_argument("channel_hub: buffer_size must be in " +
                                    std::to_string(min_ring) + "..2^26 samples, got " +
                                    std::to_string(samples));
    size_t size = min_ring;
    while (size < samples)
        size <<= 1;
    d_ring_size = size;
    d_ring_mask = size - 1;
}

void channel_hub_impl::set_latency(int node, int64_t samples)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "set_latency");
    check_configurable("set_latency");
    if (samples < 0 || samples > (int64_t(1) << 24))
        throw std::invalid_argument("channel_hub: latency of node " + std::to_string(node) +
                                    " must be in 0..2^24 samples, got " + std::to_string(samples));
    d_nodes[node].latency = samples;
}

int64_t channel_hub_impl::latency(int node) const
{
    check_node(node, "latency");
    return d_nodes[node].latency;
}

void channel_hub_impl::enable_capture(int rx_node, size_t max_samples)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(rx_node, "enable_capture");
    check_configurable("enable_capture");
    if (max_samples == 0 || max_samples > (size_t(1) << 28))
        throw std::invalid_argument("channel_hub: capture max_samples must be in 1..2^28, got " +
                                    std::to_string(max_samples));
    d_capture_requests[rx_node] = max_samples;
}

// ---------------------------------------------------------------------------
// air model
// ---------------------------------------------------------------------------

std::vector<gr_complex> channel_hub_impl::air_gain_locked(int tx, int rx)
{
    const int ntx = d_nodes[tx].nant, nrx = d_nodes[rx].nant;
    auto it = d_links.find({ tx, rx });
    if (it != d_links.end() && it->second.gain_set)
        return it->second.gain;
    if (tx == rx)
        return std::vector<gr_complex>(ntx * nrx, gr_complex(0, 0));

    std::complex<double> large(1.0, 0.0);
    const int p = std::min(tx, rx), q = std::max(tx, rx);
    if (d_has_positions) {
        const double d = std::max(std::hypot(d_x[tx] - d_x[rx], d_y[tx] - d_y[rx]), 1e-3);
        double pl = d_pl_ref_db + 10.0 * d_pl_exponent * std::log10(d / d_pl_ref_dist);
        if (d_shadowing_db > 0) {
            kernels::gaussian_rng g(kernels::derive_seed(d_seed, S_SHADOWING, p, q));
            pl += d_shadowing_db * g();
        }
        const double amp = std::pow(10.0, -pl / 20.0);
        large = std::polar(amp, -2.0 * M_PI * d_fc * d / speed_of_light);
    }
    // small-scale matrix of the unordered pair, defined for direction p -> q
    // (n_q x n_p); the other direction uses its transpose.
    const int np = d_nodes[p].nant, nq = d_nodes[q].nant;
    std::vector<std::complex<double>> small(np * nq, 1.0);
    if (d_rayleigh) {
        kernels::gaussian_rng g(kernels::derive_seed(d_seed, S_SMALL_SCALE, p, q));
        for (auto& v : small) {
            const double re = g(), im = g();
            v = std::complex<double>(re, im) * M_SQRT1_2;
        }
    }
    std::vector<gr_complex> out(ntx * nrx);
    for (int b = 0; b < nrx; b++)
        for (int a = 0; a < ntx; a++) {
            // entry (rx antenna b, tx antenna a)
            const std::complex<double> s = (tx == p) ? small[b * np + a] : small[a * np + b];
            const std::complex<double> v = large * s;
            out[b * ntx + a] = gr_complex(v);
        }
    return out;
}

double channel_hub_impl::air_delay_locked(int tx, int rx)
{
    auto it = d_links.find({ tx, rx });
    if (it != d_links.end() && it->second.delay_set)
        return it->second.delay;
    if (d_has_positions && tx != rx)
        return std::hypot(d_x[tx] - d_x[rx], d_y[tx] - d_y[rx]) / speed_of_light * d_fs;
    return 0.0;
}

std::vector<gr_complex> channel_hub_impl::link_gain(int tx, int rx)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(tx, "link_gain (tx)");
    check_node(rx, "link_gain (rx)");
    return air_gain_locked(tx, rx);
}

double channel_hub_impl::link_delay(int tx, int rx)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(tx, "link_delay (tx)");
    check_node(rx, "link_delay (rx)");
    return air_delay_locked(tx, rx);
}

double channel_hub_impl::lo_frequency(int node) const
{
    check_node(node, "lo_frequency");
    return d_nodes[node].ppm * 1e-6 * d_fc;
}

// ---------------------------------------------------------------------------
// freezing: build the streaming state from the configuration
// ---------------------------------------------------------------------------

void channel_hub_impl::build_links_locked()
{
    const double lambda = speed_of_light / d_fc;
    for (int j = 0; j < d_num_nodes; j++) {
        auto& rx = d_rx[j];
        rx.links.clear();
        const int nrx = d_nodes[j].nant;
        for (int i = 0; i < d_num_nodes; i++) {
            const int ntx = d_nodes[i].nant;
            auto gain = air_gain_locked(i, j);
            if (std::all_of(gain.begin(), gain.end(), [](gr_complex v) { return v == gr_complex(0, 0); }))
                continue;
            hub_rx_link link;
            link.tx = i;
            link.gain = gain;
            // air delays (true time, in samples of the nominal rate); the
            // transmitter's radio latency, in its own samples, comes after
            // the clock scaling below (TX sample m leaves at its own m + L)
            const double delay = air_delay_locked(i, j);
            const double latency = static_cast<double>(d_nodes[i].latency);
            std::vector<double> delays{ delay };
            std::vector<gr_complex> gains{ gr_complex(1, 0) };
            auto it = d_links.find({ i, j });
            if (it != d_links.end()) {
                for (size_t p = 0; p < it->second.tap_delays.size(); p++) {
                    delays.push_back(delay + it->second.tap_delays[p]);
                    gains.push_back(it->second.tap_gains[p]);
                }
            }
            const double eps_i = d_nodes[i].ppm * 1e-6, eps_j = d_nodes[j].ppm * 1e-6;
            // the TX LO's advance per TX sample (the oscillator's nominal part)
            const double lo_w = 2.0 * M_PI * d_nodes[i].ppm * 1e-6 * d_fc / d_fs;
            if (d_sfo && eps_i == eps_j) {
                // same clock rate: the model's index map is n - D_p (1 + eps)
                // - L, a fixed delay in the nodes' own sample units
                for (auto& d : delays)
                    d *= 1.0 + eps_i;
            }
            if (d_sfo && eps_i != eps_j) {
                // TX index of path p seen at RX sample n:
                // (n / (1 + eps_j) - D_p) (1 + eps_i) - L
                link.sfo = true;
                link.sfo_a = (1.0 + eps_i) / (1.0 + eps_j);
                for (size_t p = 0; p < delays.size(); p++) {
                    link.sfo_b.push_back(-delays[p] * (1.0 + eps_i) - latency);
                    link.sfo_g.push_back(gains[p]);
                }
                if (lo_w != 0.0) {
                    auto cis = [](double a) { return gr_complex(std::polar(1.0, a)); };
                    for (int k = 0; k < 2 * sfo_half_len; k++)
                        link.sfo_mod.push_back(cis(-lo_w * (k - sfo_half_len + 1)));
                    for (int p = 0; p < sfo_phases; p++)
                        link.sfo_rot.push_back(cis(lo_w * p / static_cast<double>(sfo_phases)));
                }
            } else {
                for (auto& d : delays)
                    d += latency;
                link.fir = kernels::design_link_fir(delays, gains, 16, lo_w);
            }
            if (i != j) {
                const double v = d_nodes[i].speed * std::cos(d_nodes[i].angle) +
                                 d_nodes[j].speed * std::cos(d_nodes[j].angle);
                link.doppler_w = 2.0 * M_PI * v / lambda / d_fs;
                link.doppler_step = std::polar(1.0, link.doppler_w);
            }
            (void)nrx;
            (void)ntx;
            rx.links.push_back(std::move(link));
        }
        if (d_half_duplex) {
            hub_rx_link self;
            self.tx = j;
            self.self_leak = true;
            // own on-air signal: TX delayed by the node's latency (for the
            // buffering bookkeeping; the samples are read in compute_rx_chunk)
            self.fir.k0 = d_nodes[j].latency;
            const double leak = std::isinf(d_leakage_db) ? 0.0 : std::pow(10.0, d_leakage_db / 20.0);
            const int ntx = d_nodes[j].nant;
            self.gain.assign(nrx * ntx, gr_complex(0, 0));
            for (int b = 0; b < nrx; b++)
                self.gain[b * ntx + (b % ntx)] = gr_complex(static_cast<float>(leak), 0);
            rx.links.push_back(std::move(self));
        }
    }
}

void channel_hub_impl::freeze_locked()
{
    if (d_frozen)
        return;
    if (!d_failure.empty())
        throw std::runtime_error(d_failure);
    try {
        freeze_checked_locked();
    } catch (const std::exception& e) {
        // Every stream of this hub now ends (their blocks return WORK_DONE
        // with this message) instead of waiting for the ones that failed.
        d_failure = e.what();
        wake_all_locked();
        throw;
    }
}

void channel_hub_impl::freeze_checked_locked()
{
    build_links_locked();
    for (int j = 0; j < d_num_nodes; j++)
        for (const auto& l : d_rx[j].links) {
            d_listeners[l.tx].push_back(j);
            d_speakers[j].push_back(l.tx);
        }
    size_t max_window = 0;
    for (int i = 0; i < d_num_nodes; i++) {
        auto& cfg = d_nodes[i];
        if (!cfg.tx_gain_set)
            cfg.tx_gain = draw_chain_gains(kernels::derive_seed(d_seed, S_TX_GAIN, i), cfg.nant,
                                           d_gain_std_db, d_gain_phase_spread);
        if (!cfg.rx_gain_set)
            cfg.rx_gain = draw_chain_gains(kernels::derive_seed(d_seed, S_RX_GAIN, i), cfg.nant,
                                           d_gain_std_db, d_gain_phase_spread);
        auto& lo = *d_lo[i];
        lo.osc = make_oscillator_locked(i);
        lo.ring.assign(d_ring_size, gr_complex(0, 0));
        lo.skip.assign(chunk_max, gr_complex(0, 0));
        auto& tx = d_tx[i];
        tx.ring.assign(cfg.nant, std::vector<gr_complex>(d_ring_size, gr_complex(0, 0)));
        tx.rot.assign(chunk_max, gr_complex(0, 0));
        if (!tx.attached)
            tx.finished = true; // no sink: this node transmits zeros

        auto& rx = d_rx[i];
        rx.noise.clear();
        for (int b = 0; b < cfg.nant; b++)
            rx.noise.emplace_back(kernels::derive_seed(d_seed, S_NOISE, i, b));
        rx.noise_std = static_cast<float>(std::sqrt(cfg.noise_power / 2.0));
        // input samples one output needs beyond the chunk: the FIR length,
        // or for a resampled link the interpolator plus the paths' spread
        size_t qmax = 1;
        for (const auto& l : rx.links) {
            size_t q = l.fir.taps.size();
            if (l.sfo) {
                const auto b = std::minmax_element(l.sfo_b.begin(), l.sfo_b.end());
                q = size_t(2 * sfo_half_len + 3) +
                    static_cast<size_t>(std::ceil(*b.second - *b.first));
            }
            qmax = std::max(qmax, q);
        }
        const size_t window = chunk_max + chunk_max / 256 + qmax + 8;
        max_window = std::max(max_window, window);
        rx.window.assign(window, gr_complex(0, 0));
        rx.filtered.assign(chunk_max, gr_complex(0, 0));
        rx.rot.assign(chunk_max, gr_complex(0, 0));
        rx.acc.assign(cfg.nant, std::vector<gr_complex>(chunk_max));
        rx.acc_fresh.assign(cfg.nant, 0);
        rx.link_acc.assign(cfg.nant, std::vector<gr_complex>(chunk_max));
        rx.transmitting.assign(chunk_max, 0);
        rx.written_snap.assign(d_num_nodes, 0);
        size_t max_terms = 0; // single-tap terms per receive antenna and chunk
        for (const auto& l : rx.links)
            max_terms += d_nodes[l.tx].nant;
        rx.terms.assign(cfg.nant, {});
        for (auto& t : rx.terms)
            t.reserve(max_terms);
        rx.term_x.assign(max_terms, nullptr);
        rx.term_g.assign(max_terms, gr_complex(0, 0));
        auto cap = d_capture_requests.find(i);
        if (cap != d_capture_requests.end()) {
            rx.capture_size = cap->second;
            rx.capture.assign(rx.links.size(),
                              std::vector<std::vector<gr_complex>>(
                                  cfg.nant, std::vector<gr_complex>(cap->second)));
        }
    }
    if (max_window + chunk_max > d_ring_size)
        throw std::invalid_argument("channel_hub: buffer_size " + std::to_string(d_ring_size) +
                                    " is too small for the link filters");
    d_frozen = true;
    d_debug_logger->debug("streaming started: {} nodes, fs {} Hz, fc {} Hz, ring {} samples",
                    d_num_nodes, d_fs, d_fc, d_ring_size);
}

// ---------------------------------------------------------------------------
// runtime control and ground truth
// ---------------------------------------------------------------------------

std::unique_ptr<kernels::oscillator> channel_hub_impl::make_oscillator_locked(int node) const
{
    const auto& cfg = d_nodes[node];
    auto osc = std::make_unique<kernels::oscillator>(d_fs, d_fc, cfg.ppm, cfg.phase_noise,
                                                     cfg.initial_phase,
                                                     kernels::derive_seed(d_seed, S_OSC, node));
    for (const auto& r : cfg.retunes)
        osc->schedule_retune(r.first, r.second);
    return osc;
}

template <typename F>
void channel_hub_impl::with_lo(int node, uint64_t n0, size_t m, gr_complex* scratch, F&& use)
{
    auto& lo = *d_lo[node];
    std::lock_guard<std::mutex> lock(lo.mutex);
    while (lo.generated < n0 + m) {
        const size_t pos = static_cast<size_t>(lo.generated) & d_ring_mask;
        const size_t run = std::min<uint64_t>(d_ring_size - pos, n0 + m - lo.generated);
        lo.osc->generate(lo.ring.data() + pos, run);
        lo.generated += run;
    }
    if (n0 + d_ring_size >= lo.generated) {
        // still in the ring: hand out its (at most two) contiguous parts
        for (size_t done = 0; done < m;) {
            const size_t pos = static_cast<size_t>(n0 + done) & d_ring_mask;
            const size_t run = std::min(d_ring_size - pos, m - done);
            use(lo.ring.data() + pos, done, run);
            done += run;
        }
        return;
    }
    // This side lags the other by more than the ring: regenerate (rare).
    if (!lo.fallback || lo.fallback->position() > n0) {
        std::lock_guard<std::mutex> cfg_lock(d_mutex);
        lo.fallback = make_oscillator_locked(node);
    }
    while (lo.fallback->position() < n0)
        lo.fallback->generate(lo.skip.data(),
                              std::min<uint64_t>(lo.skip.size(), n0 - lo.fallback->position()));
    lo.fallback->generate(scratch, m);
    use(static_cast<const gr_complex*>(scratch), size_t(0), m);
}

void channel_hub_impl::lo_phasors(int node, uint64_t n0, size_t m, gr_complex* out)
{
    with_lo(node, n0, m, out, [out](const gr_complex* lo, size_t offset, size_t len) {
        if (lo != out + offset)
            std::memcpy(out + offset, lo, len * sizeof(gr_complex));
    });
}

double channel_hub_impl::retune(int node, uint64_t at)
{
    check_node(node, "retune"); // the node count never changes
    // lock order: the node's LO, then the hub (as with_lo(), which may need
    // the hub's configuration while it holds the LO)
    auto& lo = *d_lo[node];
    std::lock_guard<std::mutex> lo_lock(lo.mutex);
    std::lock_guard<std::mutex> lock(d_mutex);
    const double phase = (2.0 * d_retune_rng[node].uniform() - 1.0) * M_PI;
    uint64_t effective = at;
    if (d_frozen) {
        if (at < lo.generated) {
            // the next sample the LO generates; recorded there, so that the
            // ground truth and any regenerated LO agree with what streamed
            effective = lo.generated;
            d_logger->warn("retune of node {} at sample {} is late (LO generated up to {}); "
                           "it takes effect at sample {}",
                           node, at, lo.generated, effective);
        }
        lo.osc->schedule_retune(effective, phase);
        lo.fallback.reset();
    }
    d_nodes[node].retunes.emplace_back(effective, phase);
    d_probe_stale[node] = 1;
    return phase;
}

std::vector<double> channel_hub_impl::lo_phase(int node, uint64_t start, size_t count)
{
    std::lock_guard<std::mutex> probe_lock(d_probe_mutex);
    {
        std::lock_guard<std::mutex> lock(d_mutex);
        check_node(node, "lo_phase");
        auto& probe = d_probe[node];
        if (!probe || !d_frozen || d_probe_stale[node] || probe->position() > start) {
            probe = make_oscillator_locked(node);
            d_probe_stale[node] = 0;
        }
    }
    // the replay runs without the hub's lock: streaming goes on meanwhile
    auto& probe = d_probe[node];
    std::vector<double> out(count);
    std::vector<double> skip(std::min<uint64_t>(65536, start - probe->position() + 1));
    while (probe->position() < start) {
        const size_t n = std::min<uint64_t>(skip.size(), start - probe->position());
        probe->generate_phase(skip.data(), n);
    }
    probe->generate_phase(out.data(), count);
    return out;
}

std::vector<gr_complex>
channel_hub_impl::captured(int rx_node, int tx_node, int rx_antenna, uint64_t& start)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(rx_node, "captured (rx)");
    check_node(tx_node, "captured (tx)");
    if (rx_antenna < 0 || rx_antenna >= d_nodes[rx_node].nant)
        throw std::invalid_argument("channel_hub: captured: node " + std::to_string(rx_node) +
                                    " has no antenna " + std::to_string(rx_antenna));
    if (d_capture_requests.find(rx_node) == d_capture_requests.end())
        throw std::invalid_argument("channel_hub: captured: capture was not enabled for node " +
                                    std::to_string(rx_node));
    const auto& rx = d_rx[rx_node];
    const uint64_t end = rx.next;
    const uint64_t size = rx.capture_size;
    start = end > size ? end - size : 0;
    std::vector<gr_complex> out(end - start, gr_complex(0, 0));
    // a node's own component: its self link (i, i) if any, plus under half
    // duplex the leakage while it transmits
    for (size_t l = 0; l < rx.links.size(); l++) {
        if (rx.links[l].tx != tx_node)
            continue;
        const auto& ring = rx.capture[l][rx_antenna];
        for (uint64_t n = start; n < end; n++)
            out[n - start] += ring[n % size];
    }
    return out;
}

// ---------------------------------------------------------------------------
// streaming
// ---------------------------------------------------------------------------

void channel_hub_impl::attach_sink(int node, int nchan)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "virtual_radio_sink_c");
    if (nchan != d_nodes[node].nant)
        throw std::invalid_argument("virtual_radio_sink_c: node " + std::to_string(node) +
                                    " has " + std::to_string(d_nodes[node].nant) +
                                    " antennas in the hub but the block has " +
                                    std::to_string(nchan) + " channels");
    if (d_tx[node].attached)
        throw std::invalid_argument("virtual_radio_sink_c: node " + std::to_string(node) +
                                    " already has a sink attached");
    if (d_frozen)
        throw std::logic_error("virtual_radio_sink_c: cannot attach node " +
                               std::to_string(node) + " after streaming has started");
    d_tx[node].attached = true;
}

void channel_hub_impl::detach_sink(int node)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "detach_sink");
    d_tx[node].attached = false;
    d_tx[node].finished = true;
    wake_all_locked();
}

void channel_hub_impl::attach_source(int node, int nchan)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "virtual_radio_source_c");
    if (nchan != d_nodes[node].nant)
        throw std::invalid_argument("virtual_radio_source_c: node " + std::to_string(node) +
                                    " has " + std::to_string(d_nodes[node].nant) +
                                    " antennas in the hub but the block has " +
                                    std::to_string(nchan) + " channels");
    if (d_rx[node].attached)
        throw std::invalid_argument("virtual_radio_source_c: node " + std::to_string(node) +
                                    " already has a source attached");
    if (d_frozen)
        throw std::logic_error("virtual_radio_source_c: cannot attach node " +
                               std::to_string(node) + " after streaming has started");
    d_rx[node].attached = true;
    d_had_source = true;
}

void channel_hub_impl::detach_source(int node)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "detach_source");
    d_rx[node].attached = false;
    d_rx[node].finished = true;
    wake_all_locked();
}

void channel_hub_impl::finish_tx(int node)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "finish_tx");
    d_tx[node].finished = true;
    wake_all_locked();
}

void channel_hub_impl::finish_rx(int node)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "finish_rx");
    d_rx[node].finished = true;
    wake_all_locked();
}

bool channel_hub_impl::receivers_done()
{
    std::lock_guard<std::mutex> lock(d_mutex);
    if (!d_had_source)
        return false;
    for (const auto& rx : d_rx)
        if (rx.attached && !rx.finished)
            return false;
    return true;
}

uint64_t channel_hub_impl::tx_position(int node)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "tx_position");
    return d_tx[node].written;
}

uint64_t channel_hub_impl::rx_position(int node)
{
    std::lock_guard<std::mutex> lock(d_mutex);
    check_node(node, "rx_position");
    return d_rx[node].next;
}

int64_t channel_hub_impl::tail_locked(int node) const
{
    // The oldest TX sample of `node` that an active receiver may still read.
    int64_t tail = static_cast<int64_t>(d_tx[node].written);
    for (int j = 0; j < d_num_nodes; j++) {
        const auto& rx = d_rx[j];
        if (!rx.attached || rx.finished)
            continue;
        for (const auto& l : rx.links)
            if (l.tx == node)
                tail = std::min(tail, l.oldest_needed(static_cast<int64_t>(rx.next)));
    }
    return tail;
}

int64_t channel_hub_impl::rx_available_locked(int node) const
{
    const auto& rx = d_rx[node];
    const int64_t next = static_cast<int64_t>(rx.next);
    int64_t avail = INT64_MAX;
    for (const auto& l : rx.links) {
        const auto& tx = d_tx[l.tx];
        if (tx.finished)
            continue;
        const int64_t w = static_cast<int64_t>(tx.written);
        // largest n with newest_needed(n) <= w - 1; newest_needed is nondecreasing
        int64_t n = l.sfo ? static_cast<int64_t>(std::floor((w - 1 - sfo_half_len -
                                                             *std::max_element(l.sfo_b.begin(), l.sfo_b.end())) /
                                                            l.sfo_a))
                          : w - 1 + l.fir.newest_offset();
        while (l.newest_needed(n) > w - 1)
            n--;
        while (l.newest_needed(n + 1) <= w - 1)
            n++;
        avail = std::min(avail, n + 1 - next);
    }
    return avail;
}

void channel_hub_impl::wake_all_locked()
{
    for (int i = 0; i < d_num_nodes; i++) {
        d_tx_cv[i]->notify_all();
        d_rx_cv[i]->notify_all();
    }
}

void channel_hub_impl::wake_listeners_locked(int tx_node)
{
    // new TX samples: receivers that hear this node may proceed
    for (int j : d_listeners[tx_node])
        if (d_rx_waiting[j] && rx_available_locked(j) > 0)
            d_rx_cv[j]->notify_one();
}

void channel_hub_impl::wake_speakers_locked(int rx_node)
{
    // a receiver advanced: the transmitters it hears may have ring space
    for (int i : d_speakers[rx_node])
        if (d_tx_waiting[i] &&
            static_cast<int64_t>(d_tx[i].written) - tail_locked(i) < static_cast<int64_t>(d_ring_size))
            d_tx_cv[i]->notify_one();
}

void channel_hub_impl::report_stall_locked(int node)
{
    // A receiver that makes no progress for seconds is usually a loop without
    // lookahead: a node whose TX at n depends on its own RX at n (or later).
    auto& rx = d_rx[node];
    const auto now = std::chrono::steady_clock::now();
    if (!rx.stalled) {
        rx.stalled = true;
        rx.stalled_since = now;
        return;
    }
    if (now - rx.stalled_since < std::chrono::seconds(5) ||
        now - rx.last_stall_warning < std::chrono::seconds(30))
        return;
    rx.last_stall_warning = now;
    std::string waiting;
    for (const auto& l : rx.links) {
        const auto& tx = d_tx[l.tx];
        const int64_t need = l.newest_needed(static_cast<int64_t>(rx.next));
        if (!tx.finished && need >= static_cast<int64_t>(tx.written))
            waiting += fmt::format(" node {} (needs TX sample {}, has {})", l.tx, need, tx.written);
    }
    d_logger->warn("node {} RX stalled at sample {} for {:.0f} s, waiting for:{}. A node whose "
                   "TX depends on its own RX must transmit with a lookahead (a burst scheduler "
                   "with D > link delay + 16 samples)",
                   node,
                   rx.next,
                   std::chrono::duration<double>(now - rx.stalled_since).count(),
                   waiting);
}

size_t channel_hub_impl::write_tx(int node,
                                  const std::vector<const gr_complex*>& in,
                                  size_t n,
                                  int timeout_ms,
                                  uint64_t& nonfinite)
{
    nonfinite = 0;
    std::unique_lock<std::mutex> lock(d_mutex);
    if (!d_frozen)
        freeze_locked();
    auto& tx = d_tx[node];
    const auto& gain = d_nodes[node].tx_gain;
    const int nant = d_nodes[node].nant;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t done = 0;
    while (done < n) {
        int64_t space = static_cast<int64_t>(d_ring_size) -
                        (static_cast<int64_t>(tx.written) - tail_locked(node));
        if (space <= 0) {
            if (done > 0)
                break;
            d_tx_waiting[node] = 1;
            const bool timeout =
                d_tx_cv[node]->wait_until(lock, deadline) == std::cv_status::timeout;
            d_tx_waiting[node] = 0;
            if (timeout)
                return 0;
            continue;
        }
        const size_t m = std::min<size_t>({ n - done, static_cast<size_t>(space), chunk_max });
        const uint64_t base = tx.written;
        lock.unlock();
        with_lo(node, base, m, tx.rot.data(), [&](const gr_complex* lo, size_t k, size_t len) {
            // a part of the LO ring is contiguous in the TX rings too (same
            // size), a regenerated LO may not be
            for (size_t j = 0; j < len;) {
                const size_t pos = static_cast<size_t>(base + k + j) & d_ring_mask;
                const size_t run = std::min(d_ring_size - pos, len - j);
                for (int a = 0; a < nant; a++) {
                    gr_complex* dst = tx.ring[a].data() + pos;
                    if (!kernels::cmul3_finite(dst, in[a] + done + k + j, lo + j, gain[a], run))
                        nonfinite += kernels::zero_nonfinite(dst, run); // rare
                }
                j += run;
            }
        });
        lock.lock();
        tx.written += m;
        done += m;
        wake_listeners_locked(node);
    }
    return done;
}

size_t channel_hub_impl::read_rx(int node,
                                 const std::vector<gr_complex*>& out,
                                 size_t n,
                                 int timeout_ms)
{
    std::unique_lock<std::mutex> lock(d_mutex);
    if (!d_frozen)
        freeze_locked();
    auto& rx = d_rx[node];
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    size_t done = 0;
    while (done < n) {
        const int64_t avail = rx_available_locked(node);
        if (avail <= 0) {
            if (done > 0)
                break;
            d_rx_waiting[node] = 1;
            const bool timeout =
                d_rx_cv[node]->wait_until(lock, deadline) == std::cv_status::timeout;
            d_rx_waiting[node] = 0;
            if (timeout) {
                report_stall_locked(node);
                return 0;
            }
            continue;
        }
        rx.stalled = false;
        const size_t m = std::min<size_t>({ n - done, static_cast<size_t>(std::min<int64_t>(avail, chunk_max)) });
        for (int i = 0; i < d_num_nodes; i++)
            rx.written_snap[i] = d_tx[i].written;
        const uint64_t n0 = rx.next;
        lock.unlock();
        compute_rx_chunk(node, n0, m, out, done);
        lock.lock();
        rx.next += m;
        done += m;
        wake_speakers_locked(node);
    }
    return done;
}

void channel_hub_impl::fill_window(int tx_node,
                                   int ant,
                                   int64_t lo,
                                   size_t len,
                                   uint64_t written,
                                   gr_complex* dst) const
{
    const auto& ring = d_tx[tx_node].ring;
    const int64_t w = static_cast<int64_t>(written);
    const int64_t hi = lo + static_cast<int64_t>(len); // exclusive
    int64_t idx = lo;
    // before the start of time: silence
    while (idx < hi && idx < 0)
        dst[idx++ - lo] = gr_complex(0, 0);
    if (ring.empty()) {
        while (idx < hi)
            dst[idx++ - lo] = gr_complex(0, 0);
        return;
    }
    const gr_complex* r = ring[ant].data();
    const int64_t stored_end = std::min(hi, w);
    while (idx < stored_end) {
        const size_t pos = static_cast<size_t>(idx) & d_ring_mask;
        const size_t run = std::min<size_t>(d_ring_size - pos, static_cast<size_t>(stored_end - idx));
        std::memcpy(dst + (idx - lo), r + pos, run * sizeof(gr_complex));
        idx += static_cast<int64_t>(run);
    }
    // after the end of a finished transmitter: silence
    while (idx < hi)
        dst[idx++ - lo] = gr_complex(0, 0);
}

void channel_hub_impl::queue_ring_terms(rx_state& rx,
                                        const hub_rx_link& link,
                                        int ant,
                                        int nrx,
                                        int ntx,
                                        uint64_t n0,
                                        size_t m,
                                        uint64_t written) const
{
    // y[n] = tap * x[n - k0]: input indices n0 - k0 .. n0 - k0 + m - 1
    const int64_t lo = static_cast<int64_t>(n0) - link.fir.k0;
    const int64_t first = std::max<int64_t>(lo, 0) - lo; // silence before time 0
    const int64_t last = std::min<int64_t>(lo + static_cast<int64_t>(m),
                                           static_cast<int64_t>(written)) -
                         lo; // and after a finished TX
    if (first >= last)
        return;
    const gr_complex* ring = d_tx[link.tx].ring[ant].data();
    const gr_complex tap = link.fir.taps[0];
    for (int b = 0; b < nrx; b++) {
        const gr_complex g = tap * link.gain[b * ntx + ant];
        if (g == gr_complex(0, 0))
            continue;
        rx.terms[b].push_back({ ring, lo, first, last, g }); // capacity reserved at freeze
    }
}

void channel_hub_impl::flush_ring_terms(rx_state& rx,
                                        int nrx,
                                        size_t m,
                                        std::vector<std::vector<gr_complex>>& sum,
                                        uint8_t* fresh) const
{
    const int64_t end = static_cast<int64_t>(m);
    for (int b = 0; b < nrx; b++) {
        auto& terms = rx.terms[b];
        const bool zeros = fresh && fresh[b];
        if (zeros)
            fresh[b] = 0;
        if (terms.empty()) {
            if (zeros)
                std::fill_n(sum[b].data(), m, gr_complex(0, 0));
            continue;
        }
        // Segments where every term's input is contiguous in its ring and the
        // set of terms with input does not change; one fused pass each.
        int64_t k = 0;
        while (k < end) {
            int64_t stop = end;
            size_t count = 0;
            for (const auto& t : terms) {
                if (k < t.first) {
                    stop = std::min(stop, t.first);
                    continue;
                }
                if (k >= t.last)
                    continue;
                const size_t pos = static_cast<size_t>(t.lo + k) & d_ring_mask;
                stop = std::min({ stop, t.last, k + static_cast<int64_t>(d_ring_size - pos) });
                rx.term_x[count] = t.ring + pos;
                rx.term_g[count] = t.gain;
                count++;
            }
            if (count > 0 || zeros)
                kernels::cmac_many(sum[b].data() + k,
                                   rx.term_x.data(),
                                   rx.term_g.data(),
                                   count,
                                   static_cast<size_t>(stop - k),
                                   zeros);
            k = stop;
        }
        terms.clear();
    }
}

void channel_hub_impl::apply_link(rx_state& rx,
                                  const hub_rx_link& link,
                                  int ant,
                                  uint64_t n0,
                                  size_t m,
                                  uint64_t written,
                                  gr_complex* y)
{
    const int64_t lo = link.oldest_needed(static_cast<int64_t>(n0));
    const int64_t hi = link.newest_needed(static_cast<int64_t>(n0 + m - 1));
    const size_t len = static_cast<size_t>(hi - lo + 1);
    if (len > rx.window.size()) // sized at freeze for every link: cannot happen
        throw std::logic_error("channel_hub: receive window too small for a link");
    fill_window(link.tx, ant, lo, len, written, rx.window.data());
    if (!link.sfo) {
        kernels::apply_link_fir(link.fir, rx.window.data(), y, m);
        return;
    }
    const auto& table = sfo_table();
    for (size_t k = 0; k < m; k++) {
        gr_complex s(0, 0);
        for (size_t p = 0; p < link.sfo_b.size(); p++) {
            const double idx = link.sfo_a * static_cast<double>(n0 + k) + link.sfo_b[p];
            int64_t base = static_cast<int64_t>(std::floor(idx));
            int phase = static_cast<int>(std::lround((idx - static_cast<double>(base)) * sfo_phases));
            if (phase == sfo_phases) {
                phase = 0;
                base++;
            }
            const float* taps = &table[static_cast<size_t>(phase) * 2 * sfo_half_len];
            const gr_complex* x = rx.window.data() + (base - sfo_half_len + 1 - lo);
            gr_complex acc(0, 0);
            if (link.sfo_mod.empty()) {
                for (int i = 0; i < 2 * sfo_half_len; i++)
                    acc += taps[i] * x[i];
            } else {
                // x(idx) exp(j w idx) from samples x[i] exp(j w pos_i):
                // weights exp(-j w (pos_i - idx)), pos_i - idx = i - H + 1 - p / P
                for (int i = 0; i < 2 * sfo_half_len; i++)
                    acc += taps[i] * (link.sfo_mod[i] * x[i]);
                acc *= link.sfo_rot[static_cast<size_t>(phase)];
            }
            s += link.sfo_g[p] * acc;
        }
        y[k] = s;
    }
}

void channel_hub_impl::compute_rx_chunk(int node,
                                        uint64_t n0,
                                        size_t m,
                                        const std::vector<gr_complex*>& out,
                                        size_t offset)
{
    auto& rx = d_rx[node];
    const int nrx = d_nodes[node].nant;
    const auto& rx_gain = d_nodes[node].rx_gain;
    const bool capture = rx.capture_size > 0;

    // RX LO: exp(+j phi[n]); applied conjugated below, straight from the LO
    // ring, unless the captured components need it earlier
    if (capture)
        lo_phasors(node, n0, m, rx.rot.data());

    // rx.acc starts as zeros: the first flush of the queued single-tap
    // terms writes it whole (no zeroing pass); every other writer of rx.acc
    // comes after a flush
    std::fill_n(rx.acc_fresh.begin(), nrx, uint8_t(1));
    uint8_t* fresh = rx.acc_fresh.data();

    const hub_rx_link* self_leak = nullptr;
    for (size_t l = 0; l < rx.links.size(); l++) {
        auto& link = rx.links[l];
        if (link.self_leak) {
            self_leak = &link;
            continue;
        }
        const int ntx = d_nodes[link.tx].nant;
        const uint64_t w = rx.written_snap[link.tx];
        // A link with its own mobility phase, or whose component is recorded,
        // is summed separately before it joins the total.
        const bool separate = capture || link.doppler_w != 0.0;
        auto& sum = separate ? rx.link_acc : rx.acc;
        if (separate) {
            flush_ring_terms(rx, nrx, m, rx.acc, fresh);
            for (int b = 0; b < nrx; b++)
                std::fill_n(rx.link_acc[b].data(), m, gr_complex(0, 0));
        }
        for (int a = 0; a < ntx; a++) {
            if (!link.sfo && link.fir.taps.size() == 1) {
                // single-tap link (integer delay): straight from the ring, fused
                // with the other single-tap terms into one pass
                queue_ring_terms(rx, link, a, nrx, ntx, n0, m, w);
                continue;
            }
            // keeps the order of the additions (and writes a fresh rx.acc)
            flush_ring_terms(rx, nrx, m, sum, separate ? nullptr : fresh);
            apply_link(rx, link, a, n0, m, w, rx.filtered.data());
            for (int b = 0; b < nrx; b++) {
                const gr_complex g = link.gain[b * ntx + a];
                if (g == gr_complex(0, 0))
                    continue;
                kernels::cmac(sum[b].data(), rx.filtered.data(), g, m);
            }
        }
        if (!separate)
            continue;
        flush_ring_terms(rx, nrx, m, rx.link_acc);
        if (link.doppler_w != 0.0) {
            // sequential rotator, re-seeded from the exact phase every 128 samples
            // of absolute index, so block boundaries never change the result
            for (size_t k = 0; k < m; k++) {
                const uint64_t n = n0 + k;
                if (n % 128 == 0)
                    link.doppler_rot = std::polar(
                        1.0, std::fmod(link.doppler_w * static_cast<double>(n), 2.0 * M_PI));
                rx.filtered[k] = gr_complex(static_cast<float>(link.doppler_rot.real()),
                                            static_cast<float>(link.doppler_rot.imag()));
                link.doppler_rot *= link.doppler_step;
            }
            for (int b = 0; b < nrx; b++)
                for (size_t k = 0; k < m; k++)
                    rx.link_acc[b][k] *= rx.filtered[k];
        }
        for (int b = 0; b < nrx; b++) {
            const gr_complex* s = rx.link_acc[b].data();
            gr_complex* acc = rx.acc[b].data();
            for (size_t k = 0; k < m; k++)
                acc[k] += s[k];
            if (capture) {
                auto& ring = rx.capture[l][b];
                const gr_complex rg = rx_gain[b];
                for (size_t k = 0; k < m; k++)
                    ring[(n0 + k) % rx.capture_size] = s[k] * std::conj(rx.rot[k]) * rg;
            }
        }
    }

    flush_ring_terms(rx, nrx, m, rx.acc, fresh);

    if (self_leak) {
        // Half duplex: while this node transmits, its receiver hears only its
        // own on-air signal through the leakage path.
        const uint64_t w = rx.written_snap[node];
        std::fill_n(rx.transmitting.data(), m, 0);
        for (int a = 0; a < nrx; a++) {
            fill_window(node, a, static_cast<int64_t>(n0) - d_nodes[node].latency, m, w,
                        rx.link_acc[a].data());
            for (size_t k = 0; k < m; k++)
                if (rx.link_acc[a][k] != gr_complex(0, 0))
                    rx.transmitting[k] = 1;
        }
        for (int b = 0; b < nrx; b++) {
            const gr_complex leak = self_leak->gain[b * nrx + b];
            for (size_t k = 0; k < m; k++)
                if (rx.transmitting[k])
                    rx.acc[b][k] = leak * rx.link_acc[b][k];
        }
        if (capture) {
            // the records say what was received: while transmitting, only the
            // leakage (kept as the self-leak link's component), nothing else
            for (size_t l = 0; l < rx.links.size(); l++) {
                const bool leak_link = rx.links[l].self_leak;
                for (int b = 0; b < nrx; b++) {
                    auto& ring = rx.capture[l][b];
                    const gr_complex g = leak_link ? self_leak->gain[b * nrx + b] * rx_gain[b]
                                                   : gr_complex(0, 0);
                    for (size_t k = 0; k < m; k++) {
                        gr_complex& r = ring[(n0 + k) % rx.capture_size];
                        if (rx.transmitting[k])
                            r = leak_link ? g * rx.link_acc[b][k] * std::conj(rx.rot[k])
                                          : gr_complex(0, 0);
                        else if (leak_link)
                            r = gr_complex(0, 0);
                    }
                }
            }
        }
    }

    // RX LO and chain, then the noise (after the chain, so its power is
    // exactly the configured one), in one pass over the output
    const auto to_baseband = [&](const gr_complex* lo, size_t k, size_t run) {
        for (int b = 0; b < nrx; b++) {
            gr_complex* y = out[b] + offset + k;
            const gr_complex* a = rx.acc[b].data() + k;
            if (rx.noise_std == 0) {
                kernels::cmul3_conj(y, a, lo, rx_gain[b], run);
                continue;
            }
            for (size_t j = 0; j < run;) {
                const float* z;
                const size_t got = rx.noise[b].take(2 * (run - j), z) / 2;
                kernels::cmul3_conj_noise(y + j, a + j, lo + j, rx_gain[b], z, rx.noise_std, got);
                j += got;
            }
        }
    };
    if (capture)
        to_baseband(rx.rot.data(), 0, m);
    else
        with_lo(node, n0, m, rx.rot.data(), to_baseband);
}

} // namespace cohere
} // namespace gr
