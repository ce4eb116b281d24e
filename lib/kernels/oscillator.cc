/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "oscillator.h"
#include "vector_ops.h"
#include <cmath>
#include <limits>
#include <stdexcept>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
constexpr double two_pi = 2.0 * M_PI;
constexpr uint64_t no_retune = std::numeric_limits<uint64_t>::max();
constexpr size_t block_size = 1024;
} // namespace

COHERE_CLONES
void unit_phasors(const float* __restrict phase, gr_complex* __restrict out, size_t n)
{
    float* __restrict o = reinterpret_cast<float*>(out);
    for (size_t k = 0; k < n; k++) {
        const float x = phase[k];
        // quadrant q = round(x / (pi/2)) by truncation (SSE2 cvttps2dq, no libm
        // call); y = x - q pi/2 in [-pi/4, pi/4] with pi/2 in three parts (Cody-Waite)
        const int q = static_cast<int>(x * 0.636619772f + (x >= 0.0f ? 0.5f : -0.5f));
        const float qf = static_cast<float>(q);
        float y = x - qf * 1.5703125f;
        y = y - qf * 4.83751296997070312500e-4f;
        y = y - qf * 7.54978995489188216e-8f;
        const float y2 = y * y;
        const float sn =
            y + y * y2 * (-1.6666654611e-1f + y2 * (8.3321608736e-3f + y2 * -1.9515295891e-4f));
        const float cs = 1.0f - 0.5f * y2 +
                         y2 * y2 *
                             (4.166664568298827e-2f +
                              y2 * (-1.388731625493765e-3f + y2 * 2.443315711809948e-5f));
        // quadrant: odd q swaps sine and cosine; signs from bits of q and q + 1
        const float swap = static_cast<float>(q & 1);
        const float s_abs = sn + swap * (cs - sn);
        const float c_abs = cs + swap * (sn - cs);
        o[2 * k] = c_abs * (1.0f - static_cast<float>((q + 1) & 2));
        o[2 * k + 1] = s_abs * (1.0f - static_cast<float>(q & 2));
    }
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
    : d_df(ppm * 1e-6 * center_freq),
      d_phase(wrap_phase(initial_phase)),
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
    d_omega = wrap_phase(two_pi * d_df / samp_rate);
    d_sigma = std::sqrt(4.0 * M_PI * M_PI * center_freq * center_freq * phase_noise_c /
                        samp_rate);
    d_block.resize(block_size);
    d_z.resize(block_size);
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
        d_phase = d_retunes.begin()->second;
        d_retunes.erase(d_retunes.begin());
    }
    d_next_retune = d_retunes.empty() ? no_retune : d_retunes.begin()->first;
}

template <typename F>
void oscillator::run(size_t n, F&& emit)
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
        double ph = d_phase;
        if (d_sigma > 0) {
            d_noise.fill(d_z.data(), m);
            for (size_t i = 0; i < m; i++) {
                emit(k + i, ph);
                ph = wrap_phase(ph + (d_omega + d_sigma * static_cast<double>(d_z[i])));
            }
        } else {
            for (size_t i = 0; i < m; i++) {
                emit(k + i, ph);
                ph = wrap_phase(ph + d_omega);
            }
        }
        d_phase = ph;
        d_pos += m;
        k += m;
    }
}

void oscillator::generate(gr_complex* out, size_t n)
{
    for (size_t done = 0; done < n;) {
        const size_t m = std::min(block_size, n - done);
        float* __restrict ph = d_block.data();
        run(m, [ph](size_t k, double phase) { ph[k] = static_cast<float>(phase); });
        unit_phasors(ph, out + done, m);
        done += m;
    }
}

void oscillator::generate_phase(double* out, size_t n)
{
    run(n, [out](size_t k, double phase) { out[k] = phase; });
}

} // namespace kernels
} // namespace cohere
} // namespace gr
