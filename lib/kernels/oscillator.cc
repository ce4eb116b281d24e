/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "oscillator.h"
#include <cmath>
#include <limits>
#include <stdexcept>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
constexpr double two_pi = 2.0 * M_PI;
constexpr uint64_t resync_period = 128; // samples of absolute index
constexpr uint64_t no_retune = std::numeric_limits<uint64_t>::max();

// exp(j d) for the small per-sample noise increment; exact sincos beyond the
// range where the 7th-order series is accurate to double precision.
inline std::complex<double> small_angle_exp(double d)
{
    if (std::abs(d) > 0.03)
        return { std::cos(d), std::sin(d) };
    const double d2 = d * d;
    const double c = 1.0 - d2 * (0.5 - d2 * (1.0 / 24.0 - d2 * (1.0 / 720.0)));
    const double s = d * (1.0 - d2 * (1.0 / 6.0 - d2 * (1.0 / 120.0 - d2 * (1.0 / 5040.0))));
    return { c, s };
}
} // namespace

double wrap_phase(double x)
{
    if (x >= -M_PI && x < M_PI)
        return x;
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
      d_rng(seed),
      d_has_retunes(false),
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
    d_step_det = { std::cos(d_omega), std::sin(d_omega) };
    d_rot = { std::cos(d_phase), std::sin(d_phase) };
}

void oscillator::schedule_retune(uint64_t at, double new_phase)
{
    std::lock_guard<std::mutex> lock(d_retune_mutex);
    d_retunes[at] = wrap_phase(new_phase);
    d_has_retunes = true;
}

void oscillator::apply_pending_retune()
{
    std::lock_guard<std::mutex> lock(d_retune_mutex);
    while (!d_retunes.empty() && d_retunes.begin()->first <= d_pos) {
        if (d_retunes.begin()->first < d_pos)
            d_retune_late++;
        d_phase = d_retunes.begin()->second;
        d_rot = { std::cos(d_phase), std::sin(d_phase) };
        d_retunes.erase(d_retunes.begin());
    }
    d_next_retune = d_retunes.empty() ? no_retune : d_retunes.begin()->first;
    d_has_retunes = !d_retunes.empty();
}

template <typename F>
void oscillator::run(size_t n, F&& emit)
{
    {
        std::lock_guard<std::mutex> lock(d_retune_mutex);
        d_next_retune = d_retunes.empty() ? no_retune : d_retunes.begin()->first;
    }
    if (d_next_retune <= d_pos)
        apply_pending_retune();
    for (size_t k = 0; k < n; k++) {
        if (d_pos == d_next_retune)
            apply_pending_retune();
        emit(k);
        // advance to d_pos + 1
        double inc = d_omega;
        std::complex<double> step = d_step_det;
        if (d_sigma > 0) {
            const double w = d_sigma * d_rng();
            inc += w;
            step *= small_angle_exp(w);
        }
        d_phase = wrap_phase(d_phase + inc);
        d_pos++;
        if (d_pos % resync_period == 0)
            d_rot = { std::cos(d_phase), std::sin(d_phase) };
        else
            d_rot *= step;
    }
}

void oscillator::generate(gr_complex* out, size_t n)
{
    run(n, [&](size_t k) {
        out[k] = gr_complex(static_cast<float>(d_rot.real()),
                            static_cast<float>(d_rot.imag()));
    });
}

void oscillator::generate_phase(double* out, size_t n)
{
    run(n, [&](size_t k) { out[k] = d_phase; });
}

} // namespace kernels
} // namespace cohere
} // namespace gr
