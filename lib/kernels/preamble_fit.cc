/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "preamble_fit.h"
#include <gnuradio/fft/fft.h>
#include <fftw3.h>
#include <volk/volk.h>
#include <algorithm>
#include <cmath>
#include <mutex>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
using cd = std::complex<double>;

const std::vector<gr_complex>& checked_preamble(const std::vector<gr_complex>& p)
{
    if (p.size() < 2)
        throw std::invalid_argument("preamble_fit: the preamble needs >= 2 samples, got " +
                                    std::to_string(p.size()));
    double e = 0.0;
    for (const auto& v : p)
        e += std::norm(cd(v));
    if (!(e > 0.0) || !std::isfinite(e))
        throw std::invalid_argument("preamble_fit: the preamble must have finite, non-zero energy");
    return p;
}
} // namespace

// Convolution of p with the sinc taps that reach the window [0, N): output k
// needs taps k - m in -(N - 1) .. N - 1, so a circular convolution of
// M >= 3 N - 2 points gives outputs 0 .. N - 1 exactly.
struct preamble_fit::convolver {
    size_t n = 0, len = 0;
    std::vector<cd> pspec; // FFT of zero-padded p, divided by len
    fftw_complex* buf = nullptr;
    fftw_plan fwd = nullptr, inv = nullptr;

    explicit convolver(const std::vector<gr_complex>& p) : n(p.size()), len(1)
    {
        while (len < 3 * n - 2)
            len *= 2;
        buf = fftw_alloc_complex(len);
        if (!buf)
            throw std::bad_alloc();
        {
            // FFTW's planner is not thread-safe: gr::fft's mutex guards every
            // planner call of the process (ESTIMATE leaves the array alone)
            std::lock_guard<std::mutex> lock(gr::fft::planner::mutex());
            fwd = fftw_plan_dft_1d(static_cast<int>(len), buf, buf, FFTW_FORWARD, FFTW_ESTIMATE);
            inv = fftw_plan_dft_1d(static_cast<int>(len), buf, buf, FFTW_BACKWARD, FFTW_ESTIMATE);
        }
        if (!fwd || !inv) {
            release();
            throw std::runtime_error("preamble_fit: FFTW could not plan " + std::to_string(len) +
                                     "-point FFTs");
        }
        cd* b = reinterpret_cast<cd*>(buf);
        std::fill(b, b + len, cd(0.0, 0.0));
        for (size_t k = 0; k < n; k++)
            b[k] = cd(p[k]);
        fftw_execute(fwd);
        pspec.assign(b, b + len);
        for (auto& v : pspec)
            v /= static_cast<double>(len);
    }
    ~convolver() { release(); }
    convolver(const convolver&) = delete;
    convolver& operator=(const convolver&) = delete;

    void release()
    {
        std::lock_guard<std::mutex> lock(gr::fft::planner::mutex());
        if (fwd)
            fftw_destroy_plan(fwd);
        if (inv)
            fftw_destroy_plan(inv);
        fftw_free(buf);
        fwd = inv = nullptr;
        buf = nullptr;
    }

    // p_delta on the window, in buf[0 .. n-1]; false for delta = 0 (p itself)
    bool delayed(double delta)
    {
        if (delta == 0.0) // sinc(t) is the unit impulse
            return false;
        cd* b = reinterpret_cast<cd*>(buf);
        std::fill(b, b + len, cd(0.0, 0.0));
        // sinc(t - delta) = (-1)^t sin(-pi delta) / (pi (t - delta)) for integer t
        const double s = std::sin(-M_PI * delta) / M_PI;
        const long nn = static_cast<long>(n);
        for (long t = -(nn - 1); t <= nn - 1; t++) {
            const double d = static_cast<double>(t) - delta;
            const double h = d == 0.0 ? 1.0 : ((t & 1) ? -s : s) / d;
            b[t >= 0 ? static_cast<size_t>(t) : len - static_cast<size_t>(-t)] = cd(h, 0.0);
        }
        fftw_execute(fwd);
        for (size_t k = 0; k < len; k++)
            b[k] *= pspec[k];
        fftw_execute(inv);
        return true;
    }
};

preamble_fit::~preamble_fit() = default;
preamble_fit::preamble_fit(preamble_fit&&) noexcept = default;

double preamble_fit::window_energy(double delta) const
{
    if (!d_conv->delayed(delta))
        return d_norm2;
    const cd* b = reinterpret_cast<const cd*>(d_conv->buf);
    double e = 0.0;
    for (size_t k = 0; k < d_p.size(); k++)
        e += std::norm(b[k]);
    return e;
}

double preamble_fit::window_residual(const gr_complex* y, double delta, double energy) const
{
    // least-squares projection of the window's samples on p_delta there
    const size_t n = d_p.size();
    cd corr(0.0, 0.0);
    double e_in = 0.0;
    if (d_conv->delayed(delta)) {
        const cd* b = reinterpret_cast<const cd*>(d_conv->buf);
        for (size_t k = 0; k < n; k++) {
            corr += cd(y[k]) * std::conj(b[k]);
            e_in += std::norm(b[k]);
        }
    } else {
        for (size_t k = 0; k < n; k++)
            corr += cd(y[k]) * std::conj(cd(d_p[k]));
        e_in = d_norm2;
    }
    return e_in > 0.0 ? energy - std::norm(corr) / e_in : energy;
}

preamble_fit::preamble_fit(const std::vector<gr_complex>& p, int period)
    : d_p(checked_preamble(p)),
      d_norm2(0.0),
      d_period(0),
      d_half((k_lags + 1) * k_grid),
      d_scratch(p.size() + 2 * k_lags),
      d_conv(std::make_unique<convolver>(d_p))
{
    const size_t n = d_p.size();
    for (size_t k = 0; k < n; k++)
        d_norm2 += std::norm(cd(d_p[k]));
    if (period < -1 || period > static_cast<int>(n / 2))
        throw std::invalid_argument("preamble_fit: period must be -1 (detect), 0 (none) or 1.." +
                                    std::to_string(n / 2) + ", got " + std::to_string(period));
    d_period = period < 0 ? detect_period(d_p) : static_cast<size_t>(period);

    // aperiodic autocorrelation a[m], m = 0 .. n-1 (a[-m] = conj(a[m]))
    std::vector<cd> a(n);
    for (size_t m = 0; m < n; m++) {
        cd s(0.0, 0.0);
        for (size_t k = 0; k + m < n; k++)
            s += std::conj(cd(d_p[k])) * cd(d_p[k + m]);
        a[m] = s;
    }
    // R(tau) = sum_m a[m] sinc(tau - m); sinc(tau - m) = (-1)^m sin(pi tau) / (pi (tau - m))
    d_table.resize(static_cast<size_t>(2 * d_half + 1));
    const int nn = static_cast<int>(n);
    for (int i = -d_half; i <= d_half; i++) {
        cd r(0.0, 0.0);
        if (i % k_grid == 0) {
            const int m = i / k_grid;
            if (m >= 0 && m < nn)
                r = a[static_cast<size_t>(m)];
            else if (m < 0 && -m < nn)
                r = std::conj(a[static_cast<size_t>(-m)]);
        } else {
            const double tau = static_cast<double>(i) / k_grid;
            const double s = std::sin(M_PI * tau) / M_PI;
            for (int m = -(nn - 1); m <= nn - 1; m++) {
                const cd am = m >= 0 ? a[static_cast<size_t>(m)] : std::conj(a[static_cast<size_t>(-m)]);
                const double w = ((m & 1) ? -s : s) / (tau - m);
                r += am * w;
            }
        }
        d_table[static_cast<size_t>(i + d_half)] = r;
    }
    d_den.resize(2 * k_grid + 1);
    for (int j = -k_grid; j <= k_grid; j++) {
        double den = 0.0;
        for (int m = -k_lags; m <= k_lags; m++)
            den += std::norm(table_at(m * k_grid - j));
        d_den[static_cast<size_t>(j + k_grid)] = den;
    }
}

std::complex<double> preamble_fit::autocorrelation(double tau) const
{
    const double pos = std::clamp(tau, -static_cast<double>(k_lags + 1), static_cast<double>(k_lags + 1)) *
                       k_grid;
    int i0 = static_cast<int>(std::floor(pos));
    i0 = std::min(i0, d_half - 1);
    const double f = pos - i0;
    return table_at(i0) * (1.0 - f) + table_at(i0 + 1) * f;
}

namespace {
// out[i] = x[i] e^{-j 2 pi f (i - ref)}, rotator in double renormalized every 256 samples
void derotate(const gr_complex* x, gr_complex* out, size_t n, double f, double ref)
{
    const cd w = std::polar(1.0, -2.0 * M_PI * f);
    cd r(1.0, 0.0);
    for (size_t i = 0; i < n; i++) {
        if ((i & 255) == 0)
            r = std::polar(1.0, -2.0 * M_PI * f * (static_cast<double>(i) - ref));
        out[i] = gr_complex(cd(x[i]) * r);
        r *= w;
    }
}
} // namespace

double preamble_fit::halves_cfo(const gr_complex* x) const
{
    gr_complex v;
    volk_32fc_x2_conjugate_dot_prod_32fc(
        &v, x + d_period, x, static_cast<unsigned int>(d_p.size() - d_period));
    return std::arg(cd(v)) / (2.0 * M_PI * static_cast<double>(d_period));
}

long preamble_fit::best_shift(const gr_complex* x, int& wrap) const
{
    const size_t n = d_p.size();
    const long span = static_cast<long>(this->span());
    wrap = 0;
    if (span == 0)
        return 0;
    long best = 0;
    double best_score = -1.0;
    for (long o = -span; o <= span; o += static_cast<long>(d_period)) {
        const gr_complex* w = x + k_lags + span + o; // window start
        const double f = halves_cfo(w);
        double e = 0.0;
        for (size_t k = 0; k < n; k++)
            e += std::norm(cd(w[k]));
        // the estimate first, so that its wrap wins a tie
        for (const int k : { 0, -1, 1 }) {
            derotate(w, d_scratch.data(), n, f + k / static_cast<double>(d_period), 0.0);
            gr_complex c;
            volk_32fc_x2_conjugate_dot_prod_32fc(
                &c, d_scratch.data(), d_p.data(), static_cast<unsigned int>(n));
            const double score = e > 0.0 ? std::norm(cd(c)) / e : 0.0;
            // on a tie (within rounding) the earliest start: a preamble cut
            // at the stream start by a multiple of L matches equally at its
            // true start before the stream and at 0 (the rest of the window,
            // where its end is missing, being empty)
            if (score > best_score + 1e-6 * best_score) {
                best_score = score;
                best = o;
                wrap = k;
            }
        }
    }
    return best;
}

sync_fit preamble_fit::fit(const gr_complex* x, int wrap) const
{
    const size_t n = d_p.size();
    const unsigned int nu = static_cast<unsigned int>(n);
    sync_fit out;
    double energy = 0.0;
    for (size_t k = 0; k < n; k++)
        energy += std::norm(cd(x[k_lags + k]));
    out.energy = energy;

    // periodic preamble: measure the CFO, then fit on the derotated samples
    // (phase reference at the integer peak)
    const gr_complex* y = x;
    if (d_period > 0) {
        out.has_cfo = true;
        out.cfo = halves_cfo(x + k_lags) + wrap / static_cast<double>(d_period);
        derotate(x, d_scratch.data(), n + 2 * k_lags, out.cfo, static_cast<double>(k_lags));
        y = d_scratch.data();
    }
    cd c[2 * k_lags + 1];
    for (int m = -k_lags; m <= k_lags; m++) {
        gr_complex v;
        volk_32fc_x2_conjugate_dot_prod_32fc(&v, y + k_lags + m, d_p.data(), nu);
        c[m + k_lags] = cd(v);
    }

    // grid search of the template fit over delta = j / k_grid, |j| <= k_grid
    int best_j = 0;
    double best = -1.0;
    double score[2 * k_grid + 1];
    for (int j = -k_grid; j <= k_grid; j++) {
        cd num(0.0, 0.0);
        for (int m = -k_lags; m <= k_lags; m++)
            num += std::conj(table_at(m * k_grid - j)) * c[m + k_lags];
        const double den = d_den[static_cast<size_t>(j + k_grid)];
        const double s = den > 0.0 ? std::norm(num) / den : 0.0;
        score[j + k_grid] = s;
        if (s > best) {
            best = s;
            best_j = j;
        }
    }
    double delta = static_cast<double>(best_j) / k_grid;
    if (best_j > -k_grid && best_j < k_grid) {
        const double ym = score[best_j - 1 + k_grid], y0 = score[best_j + k_grid],
                     yp = score[best_j + 1 + k_grid];
        const double curv = ym - 2.0 * y0 + yp;
        if (curv < 0.0)
            delta += 0.5 * (ym - yp) / curv / k_grid;
    }
    out.delta = delta;

    cd num(0.0, 0.0);
    double den = 0.0;
    for (int m = -k_lags; m <= k_lags; m++) {
        const cd r = autocorrelation(m - delta);
        num += std::conj(r) * c[m + k_lags];
        den += std::norm(r);
    }
    out.alpha = den > 0.0 ? num / den : cd(0.0, 0.0);
    // with a CFO, alpha is the phase at the integer peak: move it to the start
    if (out.has_cfo)
        out.alpha *= std::polar(1.0, 2.0 * M_PI * out.cfo * delta);

    const double s = std::norm(out.alpha) * d_norm2;
    out.metric = energy > 0.0 ? std::min(s / energy, 1.0) : 0.0;
    // the noise from what the fitted signal leaves of the window's energy
    const double floor = energy * 1e-12 + 1e-300;
    const double noise =
        std::max(window_residual(y + k_lags, delta, energy) / static_cast<double>(n - 1), floor);
    out.snr = std::max((s - noise) / (static_cast<double>(n) * noise), 1e-30);
    return out;
}

size_t preamble_fit::detect_period(const std::vector<gr_complex>& p, double tol)
{
    const size_t n = p.size();
    double e = 0.0;
    for (const auto& v : p)
        e += std::norm(cd(v));
    if (n < 2 || !(e > 0.0))
        return 0;
    const double lim = tol * tol * e / static_cast<double>(n);
    for (size_t l = 1; l <= n / 2; l++) {
        size_t k = 0;
        while (k + l < n && std::norm(cd(p[k + l]) - cd(p[k])) <= lim)
            k++;
        if (k + l == n)
            return l;
    }
    return 0;
}

double preamble_fit::false_alarm_probability(double threshold, size_t len)
{
    if (threshold <= 0.0)
        return 1.0;
    if (threshold >= 1.0)
        return 0.0;
    return std::exp(static_cast<double>(len - 1) * std::log1p(-threshold));
}

double preamble_fit::default_threshold(size_t len, double pfa, double floor)
{
    const double t = -std::expm1(std::log(pfa) / static_cast<double>(len - 1));
    return std::max(t, floor);
}

} // namespace kernels
} // namespace cohere
} // namespace gr
