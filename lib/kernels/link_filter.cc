/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "link_filter.h"
#include <cmath>
#include <map>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
constexpr double kaiser_beta = 8.0;

double sinc(double t) { return t == 0.0 ? 1.0 : std::sin(M_PI * t) / (M_PI * t); }

double kaiser(double t, double half_width)
{
    const double r = t / half_width;
    if (std::abs(r) >= 1.0)
        return 0.0;
    return std::cyl_bessel_i(0.0, kaiser_beta * std::sqrt(1.0 - r * r)) /
           std::cyl_bessel_i(0.0, kaiser_beta);
}
} // namespace

void windowed_sinc_taps(double frac, int half_len, double* out)
{
    double sum = 0;
    for (int i = 0; i < 2 * half_len; i++) {
        const double t = static_cast<double>(i - half_len + 1) - frac;
        out[i] = sinc(t) * kaiser(t, half_len);
        sum += out[i];
    }
    for (int i = 0; i < 2 * half_len; i++)
        out[i] /= sum;
}

link_fir design_link_fir(const std::vector<double>& delays,
                         const std::vector<gr_complex>& gains,
                         int half_len,
                         double lo_w)
{
    if (delays.empty())
        throw std::invalid_argument("link filter: at least one path is required");
    if (delays.size() != gains.size())
        throw std::invalid_argument("link filter: " + std::to_string(delays.size()) +
                                    " delays but " + std::to_string(gains.size()) +
                                    " gains");
    if (half_len < 2)
        throw std::invalid_argument("link filter: half_len must be >= 2, got " +
                                    std::to_string(half_len));
    std::map<int64_t, std::complex<double>> acc;
    for (size_t p = 0; p < delays.size(); p++) {
        const double d = delays[p];
        if (!std::isfinite(d) || d < 0)
            throw std::invalid_argument("link filter: path delay must be finite and >= 0, got " +
                                        std::to_string(d));
        const std::complex<double> g(gains[p].real(), gains[p].imag());
        const double rounded = std::round(d);
        if (std::abs(d - rounded) < 1e-9) {
            acc[static_cast<int64_t>(rounded)] += g;
            continue;
        }
        const int64_t base = static_cast<int64_t>(std::floor(d));
        std::vector<double> c(2 * half_len);
        windowed_sinc_taps(d - static_cast<double>(base), half_len, c.data());
        for (int i = 0; i < 2 * half_len; i++) {
            const int64_t t = base - half_len + 1 + i;
            // the sample at tap delay t left the TX LO (d - t) samples after
            // the wanted emission time: exp(j lo_w (t - d)) takes it back
            const std::complex<double> m =
                lo_w == 0.0 ? 1.0 : std::polar(1.0, lo_w * (static_cast<double>(t) - d));
            acc[t] += g * c[i] * m;
        }
    }
    link_fir fir;
    fir.k0 = acc.begin()->first;
    const int64_t last = acc.rbegin()->first;
    fir.taps.assign(static_cast<size_t>(last - fir.k0 + 1), gr_complex(0, 0));
    for (const auto& kv : acc)
        fir.taps[kv.first - fir.k0] = gr_complex(static_cast<float>(kv.second.real()),
                                                 static_cast<float>(kv.second.imag()));
    return fir;
}

void apply_link_fir(const link_fir& fir, const gr_complex* x, gr_complex* y, size_t n)
{
    const size_t q_len = fir.taps.size();
    if (q_len == 1) {
        const gr_complex t = fir.taps[0];
        for (size_t k = 0; k < n; k++)
            y[k] = t * x[k];
        return;
    }
    // y[k] = sum_q taps[q] * x[k + Q - 1 - q]
    for (size_t k = 0; k < n; k++) {
        gr_complex s(0, 0);
        const gr_complex* xp = x + k + q_len - 1;
        for (size_t q = 0; q < q_len; q++)
            s += fir.taps[q] * xp[-static_cast<ptrdiff_t>(q)];
        y[k] = s;
    }
}

} // namespace kernels
} // namespace cohere
} // namespace gr
