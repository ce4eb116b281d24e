/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_preamble_fit
#include "kernels/preamble_fit.h"
#include <gnuradio/fft/fft.h>
#include "test_signals.h"
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <complex>
#include <random>
#include <vector>

using namespace gr::cohere::kernels;
using gr::cohere::test::zadoff_chu;

namespace {
using cd = std::complex<double>;

// A band-limited sequence: QPSK on the lowest 3/4 of the DFT bins (|k| < 3n/8).
std::vector<gr_complex> band_limited(int n, unsigned seed)
{
    std::mt19937 gen(seed);
    std::uniform_int_distribution<int> q(0, 3);
    gr::fft::fft_complex_rev inv(n);
    gr_complex* b = inv.get_inbuf();
    for (int k = 0; k < n; k++) {
        const int f = k < n / 2 ? k : k - n;
        b[k] = (f != 0 && std::abs(f) < 3 * n / 8) ? std::polar(1.0f, static_cast<float>(M_PI / 4 + M_PI / 2 * q(gen)))
                                                     : gr_complex(0, 0);
    }
    inv.execute();
    std::vector<gr_complex> p(inv.get_outbuf(), inv.get_outbuf() + n);
    double e = 0;
    for (auto v : p)
        e += std::norm(v);
    for (auto& v : p)
        v /= static_cast<float>(std::sqrt(e / n));
    return p;
}

// alpha * p delayed by d samples (ideal band-limited delay, by DFT over m
// samples with p placed at 0; m >> N makes the periodic images negligible).
std::vector<gr_complex> delayed(const std::vector<gr_complex>& p, double d, cd alpha, int m)
{
    gr::fft::fft_complex_fwd fwd(m);
    gr::fft::fft_complex_rev inv(m);
    std::fill(fwd.get_inbuf(), fwd.get_inbuf() + m, gr_complex(0, 0));
    std::copy(p.begin(), p.end(), fwd.get_inbuf());
    fwd.execute();
    for (int k = 0; k < m; k++) {
        const double f = (k < m / 2 ? k : k - m) / static_cast<double>(m);
        cd rot = std::polar(1.0, -2 * M_PI * f * d);
        if (k == m / 2)
            rot = std::cos(M_PI * d); // Nyquist bin: keep the result symmetric
        inv.get_inbuf()[k] = gr_complex(cd(fwd.get_outbuf()[k]) * rot * alpha / static_cast<double>(m));
    }
    inv.execute();
    return std::vector<gr_complex>(inv.get_outbuf(), inv.get_outbuf() + m);
}
} // namespace

// The template is the aperiodic autocorrelation at integer lags, ||p||^2 at 0,
// and Hermitian: R(-tau) = conj(R(tau)).
BOOST_AUTO_TEST_CASE(template_values)
{
    const auto p = band_limited(64, 1);
    preamble_fit f(p);
    BOOST_CHECK_CLOSE(f.autocorrelation(0.0).real(), f.norm2(), 1e-9);
    for (int m = 1; m <= 3; m++) {
        cd a(0, 0);
        for (size_t k = 0; k + m < p.size(); k++)
            a += std::conj(cd(p[k])) * cd(p[k + m]);
        BOOST_CHECK_SMALL(std::abs(f.autocorrelation(m) - a), 1e-6 * f.norm2());
    }
    for (double tau : { 0.3, 1.7, 2.9 })
        BOOST_CHECK_SMALL(std::abs(f.autocorrelation(-tau) - std::conj(f.autocorrelation(tau))),
                          1e-9 * f.norm2());
}

// Noise-free fractional delays: the fit recovers the start (|error| < 2e-3
// sample: the table step is 1/256 and the parabola refines it), the complex
// amplitude (relative 2e-3), for a white (Zadoff-Chu) and a band-limited
// sequence, with the integer peak on either side of the true start.
BOOST_AUTO_TEST_CASE(fractional_delay_noise_free)
{
    for (int kind = 0; kind < 2; kind++) {
        const auto p = kind == 0 ? zadoff_chu(25, 256) : band_limited(256, 7);
        preamble_fit f(p);
        const cd alpha = std::polar(0.7, 2.1);
        for (double frac : { 0.0, 0.1, 0.25, 0.5, 0.73, 0.9 }) {
            const double d = 1000.0 + frac;
            const auto x = delayed(p, d, alpha, 4096);
            for (int peak : { 1000, 1001 }) {
                const auto r = f.fit(x.data() + peak - preamble_fit::k_lags);
                BOOST_TEST_INFO("kind " << kind << " frac " << frac << " peak " << peak);
                BOOST_CHECK_SMALL(peak + r.delta - d, 2e-3);
                BOOST_CHECK_SMALL(std::abs(r.alpha - alpha) / std::abs(alpha), 2e-3);
                BOOST_CHECK(!r.has_cfo);
                BOOST_CHECK_GT(r.snr, 1e4); // noise free: only rounding
            }
        }
    }
}

// SNR estimate: x = p + noise at a per-sample SNR of 10 dB, N = 1024: the
// estimate's spread is about 10 log10(1 + sqrt(2 / N)) = 0.19 dB (noise
// power from N - 1 degrees of freedom), so within 1 dB; amplitude within 5 %.
BOOST_AUTO_TEST_CASE(snr_estimate)
{
    const auto p = zadoff_chu(7, 1024);
    preamble_fit f(p);
    std::mt19937 gen(5);
    const double snr = 10.0;
    std::normal_distribution<float> nd(0.0f, static_cast<float>(std::sqrt(0.5 / snr)));
    std::vector<gr_complex> x(1024 + 2 * preamble_fit::k_lags);
    for (size_t k = 0; k < x.size(); k++) {
        const size_t j = k - preamble_fit::k_lags;
        x[k] = gr_complex(nd(gen), nd(gen)) + (j < 1024 ? p[j] : gr_complex(0, 0));
    }
    const auto r = f.fit(x.data());
    BOOST_CHECK_SMALL(10 * std::log10(r.snr) - 10.0, 1.0);
    BOOST_CHECK_SMALL(std::abs(r.alpha) - 1.0, 0.05);
    BOOST_CHECK_SMALL(r.delta, 0.05);
}

// CFO from two identical halves: arg(sum conj(x[k]) x[k + L]) / (2 pi L).
BOOST_AUTO_TEST_CASE(window_energy_and_residual)
{
    // E_in(delta) = sum_{k < N} |sum_m p[m] sinc(k - m - delta)|^2 against the
    // direct double sum, for odd and even N and delays of either sign; the
    // residual of y = 2 p_delta on the window is 0 (FFT rounding: 1e-12)
    for (int n : { 37, 64 }) {
        const auto p = band_limited(n, 5u + static_cast<unsigned>(n));
        preamble_fit f(p, 0);
        BOOST_CHECK_EQUAL(f.window_energy(0.0), f.norm2());
        for (double delta : { 0.5, -0.3, 0.9 }) {
            std::vector<gr_complex> y(static_cast<size_t>(n));
            double direct = 0.0;
            for (int k = 0; k < n; k++) {
                cd v(0.0, 0.0);
                for (int m = 0; m < n; m++) {
                    const double t = k - m - delta;
                    v += cd(p[static_cast<size_t>(m)]) * (std::sin(M_PI * t) / (M_PI * t));
                }
                direct += std::norm(v);
                y[static_cast<size_t>(k)] = gr_complex(2.0 * v);
            }
            BOOST_CHECK_CLOSE(f.window_energy(delta), direct, 1e-9);
            BOOST_CHECK(direct < f.norm2()); // part of it spread outside the window
            double e = 0.0;
            for (const auto& v : y)
                e += std::norm(cd(v));
            BOOST_CHECK_SMALL(f.window_residual(y.data(), delta, e) / e, 1e-7); // complex64 y
        }
    }
}

BOOST_AUTO_TEST_CASE(cfo_from_halves)
{
    std::mt19937 gen(9);
    std::normal_distribution<float> nd;
    std::vector<gr_complex> half(128), p;
    for (auto& v : half)
        v = gr_complex(nd(gen), nd(gen));
    p.insert(p.end(), half.begin(), half.end());
    p.insert(p.end(), half.begin(), half.end());
    preamble_fit f(p);
    BOOST_CHECK_EQUAL(f.period(), 128u);
    const double cfo = 1.3e-3; // cycles per sample, < 1 / (2 L)
    std::vector<gr_complex> x(p.size() + 2 * preamble_fit::k_lags, gr_complex(0, 0));
    for (size_t k = 0; k < p.size(); k++)
        x[k + preamble_fit::k_lags] = p[k] * std::polar(1.0f, static_cast<float>(2 * M_PI * cfo * k + 0.4));
    const auto r = f.fit(x.data());
    BOOST_CHECK(r.has_cfo);
    BOOST_CHECK_SMALL(r.cfo - cfo, 1e-7);
    // phase referred to the start: the carrier phase there is 0.4 (up to the
    // centroid approximation for this non-constant envelope, ~1e-3 rad)
    BOOST_CHECK_SMALL(std::arg(r.alpha * std::polar(1.0, -0.4)), 5e-3);
    // explicit period 0 disables it
    preamble_fit g(p, 0);
    BOOST_CHECK(!g.fit(x.data()).has_cfo);
}

// With a large CFO the metric sidelobe at -L beats the main peak; best_shift
// finds the true start among the shifts by multiples of L (CFO-compensated
// metric), from either side, and the fit there returns CFO and start phase.
BOOST_AUTO_TEST_CASE(best_shift_resolves_period_ambiguity)
{
    const auto half = zadoff_chu(7, 128);
    std::vector<gr_complex> p(half);
    p.insert(p.end(), half.begin(), half.end());
    preamble_fit f(p);
    BOOST_CHECK_EQUAL(f.span(), 128u);
    const double cfo = 3.5e-3; // 0.9 of 1 / (2 L)
    const size_t start = 600;
    std::vector<gr_complex> x(1500, gr_complex(0, 0));
    for (size_t k = 0; k < p.size(); k++)
        x[start + k] = p[k] * std::polar(1.0f, static_cast<float>(2 * M_PI * cfo * k - 1.0));
    for (long peak : { 472L, 600L, 728L }) {
        int wrap = 9;
        const long shift = f.best_shift(x.data() + peak - 128 - preamble_fit::k_lags, wrap);
        BOOST_CHECK_EQUAL(peak + shift, static_cast<long>(start));
        BOOST_CHECK_EQUAL(wrap, 0);
    }
    const auto r = f.fit(x.data() + start - preamble_fit::k_lags);
    BOOST_CHECK_SMALL(r.cfo - cfo, 1e-6);
    BOOST_CHECK_SMALL(r.delta, 1e-3);
    BOOST_CHECK_SMALL(std::arg(r.alpha * std::polar(1.0, 1.0)), 1e-3);
    int wrap = 9;
    BOOST_CHECK_EQUAL(preamble_fit(zadoff_chu(7, 128)).best_shift(x.data(), wrap), 0);
    BOOST_CHECK_EQUAL(wrap, 0);
}

// A CFO just beyond 1 / (2 L) (as noise puts an estimate near the edge): the
// halves estimate wraps to f - 1 / L. Scored with it, every window was
// decorrelated and a shifted one won (the start came out L off); with the
// wraps +-1 / L tried, the true start and wrap +1 win, and fit() with that
// wrap returns the true CFO and start phase.
BOOST_AUTO_TEST_CASE(best_shift_resolves_a_wrapped_cfo)
{
    const auto half = zadoff_chu(7, 128);
    std::vector<gr_complex> p(half);
    p.insert(p.end(), half.begin(), half.end());
    preamble_fit f(p);
    const size_t start = 600;
    for (const double cfo : { 1.05 / 256, -1.05 / 256, 0.98 / 256 }) {
        std::vector<gr_complex> x(1500, gr_complex(0, 0));
        for (size_t k = 0; k < p.size(); k++)
            x[start + k] = p[k] * std::polar(1.0f, static_cast<float>(2 * M_PI * cfo * k - 1.0));
        const int want_wrap = std::abs(cfo) > 1.0 / 256 ? (cfo > 0 ? 1 : -1) : 0;
        for (long peak : { 472L, 600L, 728L }) {
            int wrap = 9;
            const long shift = f.best_shift(x.data() + peak - 128 - preamble_fit::k_lags, wrap);
            BOOST_CHECK_EQUAL(peak + shift, static_cast<long>(start));
            BOOST_CHECK_EQUAL(wrap, want_wrap);
        }
        const auto wrapped = f.fit(x.data() + start - preamble_fit::k_lags);
        BOOST_CHECK_SMALL(wrapped.cfo - (cfo - want_wrap / 128.0), 1e-6);
        const auto r = f.fit(x.data() + start - preamble_fit::k_lags, want_wrap);
        BOOST_CHECK_SMALL(r.cfo - cfo, 1e-6);
        BOOST_CHECK_SMALL(r.delta, 1e-3);
        BOOST_CHECK_SMALL(std::arg(r.alpha * std::polar(1.0, 1.0)), 1e-3);
    }
}

BOOST_AUTO_TEST_CASE(periods)
{
    const auto zc = zadoff_chu(25, 256);
    BOOST_CHECK_EQUAL(preamble_fit::detect_period(zc), 0u);
    std::vector<gr_complex> h(zc.begin(), zc.begin() + 100), three, cp;
    for (int i = 0; i < 3; i++)
        three.insert(three.end(), h.begin(), h.end());
    BOOST_CHECK_EQUAL(preamble_fit::detect_period(three), 100u);
    // cyclic prefix (tail of the half) + two halves keeps period 100
    cp.insert(cp.end(), h.end() - 20, h.end());
    cp.insert(cp.end(), h.begin(), h.end());
    cp.insert(cp.end(), h.begin(), h.end());
    BOOST_CHECK_EQUAL(preamble_fit::detect_period(cp), 100u);
    std::vector<gr_complex> ones(32, gr_complex(1, 0));
    BOOST_CHECK_EQUAL(preamble_fit::detect_period(ones), 1u);
}

// t = 1 - pfa^(1/(N-1)) solves (1 - t)^(N-1) = pfa; the floor binds for long N.
BOOST_AUTO_TEST_CASE(thresholds)
{
    BOOST_CHECK_CLOSE(preamble_fit::default_threshold(256), 1 - std::pow(1e-6, 1.0 / 255), 1e-9);
    BOOST_CHECK_CLOSE(preamble_fit::default_threshold(256), 0.0527369692, 1e-6);
    BOOST_CHECK_CLOSE(preamble_fit::default_threshold(16), 0.6018928294, 1e-6);
    BOOST_CHECK_EQUAL(preamble_fit::default_threshold(4096), 0.01);
    BOOST_CHECK_CLOSE(preamble_fit::false_alarm_probability(preamble_fit::default_threshold(256), 256),
                      1e-6,
                      1e-6);
    BOOST_CHECK_EQUAL(preamble_fit::false_alarm_probability(0.0, 10), 1.0);
    BOOST_CHECK_EQUAL(preamble_fit::false_alarm_probability(1.0, 10), 0.0);
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(preamble_fit(std::vector<gr_complex>{ gr_complex(1, 0) }), std::invalid_argument);
    BOOST_CHECK_THROW(preamble_fit(std::vector<gr_complex>(16, gr_complex(0, 0))), std::invalid_argument);
    BOOST_CHECK_THROW(preamble_fit(zadoff_chu(1, 16), 9), std::invalid_argument);
    BOOST_CHECK_THROW(preamble_fit(zadoff_chu(1, 16), -2), std::invalid_argument);
}
