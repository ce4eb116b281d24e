/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "oscillator.h"
#include "fast_math.h"
#include "vector_ops.h"
#include <cmath>
#include <cstring>
#include <limits>
#include <stdexcept>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
constexpr double two_pi = 2.0 * M_PI;
constexpr uint64_t no_retune = std::numeric_limits<uint64_t>::max();
constexpr size_t block_size = 1024;
constexpr double max_increment_std = 2.0; // rad: keeps |sigma z| 2^50 / (2 pi) < 2^51
} // namespace

COHERE_CLONES
void fixed_phasors(const uint64_t* __restrict phase, gr_complex* __restrict out, size_t n)
{
    float* __restrict o = reinterpret_cast<float*>(out);
    for (size_t k = 0; k < n; k++)
        phasor_one(static_cast<uint32_t>(phase[k] >> 32), o[2 * k], o[2 * k + 1]);
}

uint64_t phase_to_fixed(double phase)
{
    double turns = phase / two_pi;
    turns -= std::floor(turns + 0.5); // [-0.5, 0.5) up to rounding
    if (turns < -0.5)
        turns += 1.0;
    if (turns >= 0.5)
        turns -= 1.0;
    return static_cast<uint64_t>(std::llround(std::ldexp(turns, 64)));
}

double wrap_phase_far(double x)
{
    x = std::fmod(x + M_PI, two_pi);
    if (x < 0)
        x += two_pi;
    return x - M_PI;
}

oscillator::oscillator(double samp_rate,
                       double center_freq,
                       double ppm,
                       double phase_noise_c,
                       double initial_phase,
                       uint64_t seed)
    : d_sigma(0),
      d_df(ppm * 1e-6 * center_freq),
      d_omega(0),
      d_noise_scale(0),
      d_phase(0),
      d_pos(0),
      d_noise(seed),
      d_next_retune(no_retune),
      d_retune_late(0)
{
    if (!(samp_rate > 0) || !std::isfinite(samp_rate))
        throw std::invalid_argument("oscillator: samp_rate must be > 0, got " +
                                    std::to_string(samp_rate));
    if (!(phase_noise_c >= 0) || !std::isfinite(phase_noise_c))
        throw std::invalid_argument("oscillator: phase_noise_c must be >= 0, got " +
                                    std::to_string(phase_noise_c));
    if (!std::isfinite(ppm) || !std::isfinite(center_freq) || !std::isfinite(initial_phase))
        throw std::invalid_argument("oscillator: ppm, center_freq and initial_phase must be finite");
    d_sigma = std::sqrt(4.0 * M_PI * M_PI * center_freq * center_freq * phase_noise_c /
                        samp_rate);
    if (d_sigma > max_increment_std)
        throw std::invalid_argument(
            "oscillator: phase_noise_c " + std::to_string(phase_noise_c) +
            " gives a per-sample phase increment std of " + std::to_string(d_sigma) +
            " rad; at most " + std::to_string(max_increment_std) + " rad is supported");
    d_omega = phase_to_fixed(two_pi * (d_df / samp_rate));
    d_noise_scale = d_sigma * 0x1.0p50 / two_pi;
    d_phase = phase_to_fixed(initial_phase);
    d_z.resize(block_size);
    d_block.resize(block_size);
}

void oscillator::schedule_retune(uint64_t at, double new_phase)
{
    std::lock_guard<std::mutex> lock(d_retune_mutex);
    d_retunes[at] = wrap_phase(new_phase);
}

void oscillator::apply_pending_retune()
{
    std::lock_guard<std::mutex> lock(d_retune_mutex);
    while (!d_retunes.empty() && d_retunes.begin()->first <= d_pos) {
        if (d_retunes.begin()->first < d_pos)
            d_retune_late++;
        d_phase = phase_to_fixed(d_retunes.begin()->second);
        d_retunes.erase(d_retunes.begin());
    }
    d_next_retune = d_retunes.empty() ? no_retune : d_retunes.begin()->first;
}

namespace {
/*!
 * phase[i] = phase before sample i of the block, with the next phase
 * returned: phase[i + 1] = phase[i] + omega + round(scale z[i]) 2^14, all
 * modulo 2^64. |scale z| < 2^51 (sigma <= 2 rad and |z| < 6), where adding
 * 1.5 2^52 rounds a double to an integer held in its low mantissa bits.
 */
COHERE_CLONES
uint64_t accumulate_noisy(uint64_t ph,
                          uint64_t omega,
                          double scale,
                          const float* __restrict z,
                          uint64_t* __restrict phase,
                          size_t m)
{
    constexpr double magic = 0x1.8p52;
    uint64_t magic_bits;
    std::memcpy(&magic_bits, &magic, sizeof(magic));
    // increments first (vectorizes), then the running sum (an integer chain)
    for (size_t i = 0; i < m; i++) {
        const double v = scale * static_cast<double>(z[i]) + magic;
        uint64_t bits;
        std::memcpy(&bits, &v, sizeof(v));
        phase[i] = omega + ((bits - magic_bits) << 14);
    }
    for (size_t i = 0; i < m; i++) {
        const uint64_t inc = phase[i];
        phase[i] = ph;
        ph += inc;
    }
    return ph;
}
} // namespace

template <typename F>
void oscillator::run(size_t n, F&& emit_block)
{
    {
        std::lock_guard<std::mutex> lock(d_retune_mutex);
        d_next_retune = d_retunes.empty() ? no_retune : d_retunes.begin()->first;
    }
    size_t k = 0;
    while (k < n) {
        if (d_pos >= d_next_retune)
            apply_pending_retune();
        // a segment without retunes, at most one block long
        size_t m = std::min(n - k, block_size);
        if (d_next_retune != no_retune)
            m = static_cast<size_t>(std::min<uint64_t>(m, d_next_retune - d_pos));
        uint64_t* ph = d_block.data();
        if (d_sigma > 0) {
            d_noise.fill(d_z.data(), m);
            d_phase = accumulate_noisy(d_phase, d_omega, d_noise_scale, d_z.data(), ph, m);
        } else {
            uint64_t p = d_phase;
            for (size_t i = 0; i < m; i++) {
                ph[i] = p;
                p += d_omega;
            }
            d_phase = p;
        }
        emit_block(k, ph, m);
        d_pos += m;
        k += m;
    }
}

void oscillator::generate(gr_complex* out, size_t n)
{
    run(n, [out](size_t k, const uint64_t* ph, size_t m) { fixed_phasors(ph, out + k, m); });
}

void oscillator::generate_phase(double* out, size_t n)
{
    run(n, [out](size_t k, const uint64_t* ph, size_t m) {
        for (size_t i = 0; i < m; i++)
            out[k + i] = fixed_to_phase(ph[i]);
    });
}

} // namespace kernels
} // namespace cohere
} // namespace gr
