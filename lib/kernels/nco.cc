/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "nco.h"
#include "oscillator.h" // wrap_phase
#include "vector_ops.h"
#include <algorithm>
#include <cmath>
#include <complex>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
// 2 pi = two_pi_hi + two_pi_lo to about 1e-32
constexpr double two_pi_hi = 6.283185307179586;
constexpr double two_pi_lo = 2.4492935982947064e-16;
// the table is rebuilt by a double-precision recursion, re-seeded exactly
// every reseed entries (error < 1e-14, far below the float rounding)
constexpr size_t reseed = 64;

void check_finite(const char* what, double v)
{
    if (!std::isfinite(v))
        throw std::invalid_argument(std::string("nco: ") + what + " must be finite, got " +
                                    std::to_string(v));
}
} // namespace

// The per-sample phase step 2 pi f / fs wrapped. The frequency is first
// reduced modulo fs (fmod is exact), so a frequency many times fs keeps the
// step's full relative precision instead of the rounding of a large angle,
// which would accumulate sample after sample.
double step_of(double frequency, double fs)
{
    return wrap_phase(2.0 * M_PI * std::fmod(frequency, fs) / fs);
}

double reduced_phase(double omega, uint64_t m)
{
    if (m == 0)
        return 0.0;
    const double md = static_cast<double>(m); // exact below 2^53
    const double hi = omega * md;
    const double lo = std::fma(omega, md, -hi); // hi + lo == omega m exactly
    const double k = std::nearbyint(hi / two_pi_hi);
    double r = std::fma(-k, two_pi_hi, hi); // hi - k two_pi_hi, rounded once
    r = r - k * two_pi_lo;
    return wrap_phase(r + lo);
}

nco::nco(double samp_rate, double frequency, double phase)
    : d_fs(samp_rate),
      d_freq(0.0),
      d_omega(0.0),
      d_anchor(0),
      d_anchor_phase(0.0),
      d_pos(0),
      d_block(0),
      d_block_valid(false),
      d_p0(1.0f, 0.0f),
      d_table(block_len)
{
    if (!(samp_rate > 0) || !std::isfinite(samp_rate))
        throw std::invalid_argument("nco: samp_rate must be > 0, got " +
                                    std::to_string(samp_rate));
    check_finite("frequency", frequency);
    check_finite("phase", phase);
    check_finite("2 pi frequency / samp_rate", 2.0 * M_PI * frequency / samp_rate);
    d_freq = frequency;
    d_omega = step_of(frequency, d_fs);
    d_anchor_phase = wrap_phase(phase);
    rebuild_table();
}

double nco::phase_at(uint64_t n) const
{
    // n < d_anchor is not meaningful (before the last retune); clamp
    const uint64_t m = n > d_anchor ? n - d_anchor : 0;
    return wrap_phase(d_anchor_phase + reduced_phase(d_omega, m));
}

void nco::rebuild_table()
{
    const std::complex<double> w = std::polar(1.0, -d_omega);
    std::complex<double> z(1.0, 0.0);
    for (size_t k = 0; k < block_len; k++) {
        if (k % reseed == 0)
            z = std::polar(1.0, -reduced_phase(d_omega, k));
        d_table[k] = gr_complex(z);
        z *= w;
    }
    d_block_valid = false;
}

void nco::set_frequency(double frequency)
{
    check_finite("frequency", frequency);
    check_finite("2 pi frequency / samp_rate", 2.0 * M_PI * frequency / d_fs);
    d_anchor_phase = phase_at(d_pos);
    d_anchor = d_pos;
    d_freq = frequency;
    const double omega = step_of(frequency, d_fs);
    if (omega != d_omega) {
        d_omega = omega;
        rebuild_table();
    }
    d_block_valid = false;
}

void nco::set_phase(double phase)
{
    check_finite("phase", phase);
    d_anchor_phase = wrap_phase(phase);
    d_anchor = d_pos;
    d_block_valid = false;
}

void nco::set(double frequency, double phase)
{
    check_finite("frequency", frequency);
    check_finite("2 pi frequency / samp_rate", 2.0 * M_PI * frequency / d_fs);
    check_finite("phase", phase);
    set_phase(phase);
    set_frequency(frequency);
}

void nco::load_block(uint64_t block)
{
    const double theta = phase_at(d_anchor + block * block_len);
    d_p0 = gr_complex(static_cast<float>(std::cos(theta)), static_cast<float>(-std::sin(theta)));
    d_block = block;
    d_block_valid = true;
}

void nco::derotate(const gr_complex* in, gr_complex* out, size_t n)
{
    while (n > 0) {
        const uint64_t rel = d_pos - d_anchor;
        const uint64_t block = rel / block_len;
        const size_t k = static_cast<size_t>(rel % block_len);
        if (!d_block_valid || block != d_block)
            load_block(block);
        const size_t m = std::min(n, block_len - k);
        cmul3(out, in, d_table.data() + k, d_p0, m);
        in += m;
        out += m;
        n -= m;
        d_pos += m;
    }
}

} // namespace kernels
} // namespace cohere
} // namespace gr
