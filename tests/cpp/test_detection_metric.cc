/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_detection_metric
#include "kernels/correlator.h"
#include "kernels/detection_metric.h"
#include "kernels/preamble_fit.h"
#include "test_signals.h"
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <complex>
#include <limits>
#include <random>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
using gr::cohere::test::gaussian;
using gr::cohere::test::zadoff_chu;
} // namespace

// NaN, +-inf and values whose |x|^2 overflows become zeros in the analysis
// copy (and are counted); the others are copied unchanged.
BOOST_AUTO_TEST_CASE(sanitize)
{
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    std::vector<gr_complex> in = { { 1, 2 }, { nan, 0 }, { 0, -inf }, { 3e19f, 0 },
                                   { -nan, 1 }, { -1, 0.5f }, { 0, 0 } };
    std::vector<gr_complex> x(in.size());
    BOOST_CHECK_EQUAL(sanitize_copy(in.data(), x.data(), in.size()), 4u);
    BOOST_CHECK_EQUAL(x[0], gr_complex(1, 2));
    for (size_t k : { 1u, 2u, 3u, 4u })
        BOOST_CHECK_EQUAL(x[k], gr_complex(0, 0));
    BOOST_CHECK_EQUAL(x[5], gr_complex(-1, 0.5f));
    BOOST_CHECK_EQUAL(x[6], gr_complex(0, 0));
}

// The running energy equals the double-precision window sum to float
// rounding (relative 1e-6) for any restart interval, including the four-chain
// vector path and its tails; after a burst 1e6 times stronger the windows of
// zeros that follow are exactly 0 (the double running sums are exact).
BOOST_AUTO_TEST_CASE(sliding_energy_matches_sum)
{
    for (size_t len : { 16u, 17u, 100u, 1024u }) {
        for (size_t restart : { 8u, 13u, 1024u, 4096u }) {
            const size_t nout = 5001;
            auto x = gaussian(nout + len - 1, 11 + len);
            std::vector<float> pw(x.size());
            for (size_t k = 0; k < x.size(); k++)
                pw[k] = std::norm(x[k]);
            std::vector<float> e(nout);
            const float emax = sliding_energy(pw.data(), len, nout, e.data(), restart);
            float ref_max = 0;
            for (size_t j = 0; j < nout; j += 1) {
                double s = 0;
                for (size_t k = 0; k < len; k++)
                    s += pw[j + k];
                BOOST_REQUIRE_CLOSE(static_cast<double>(e[j]), s, 1e-4);
                ref_max = std::max(ref_max, e[j]);
            }
            BOOST_CHECK_EQUAL(emax, ref_max);
        }
    }
    // burst then silence
    const size_t len = 64, nout = 3000;
    std::vector<float> pw(nout + len - 1, 0.0f);
    auto x = gaussian(500, 5, 1000.0f);
    for (size_t k = 0; k < 500; k++)
        pw[100 + k] = std::norm(x[k]);
    std::vector<float> e(nout);
    sliding_energy(pw.data(), len, nout, e.data(), 4096);
    for (size_t j = 600; j < nout; j++)
        BOOST_REQUIRE_EQUAL(e[j], 0.0f);
}

// The metric is |c|^2 / (norm2 E) clamped to [0, 1], the floor applies, and
// the count of values above the threshold is returned.
BOOST_AUTO_TEST_CASE(metric_definition)
{
    std::vector<gr_complex> c = { { 3, 4 }, { 0, 0 }, { 1, 0 }, { 10, 0 }, { 1, 1 } };
    std::vector<float> e = { 5, 0, 1e-30f, 1, -1e-12f };
    std::vector<float> m(c.size());
    const size_t above = normalized_metric(c.data(), e.data(), 10.0f, 1e-3f, 0.2f, m.data(), 5);
    BOOST_CHECK_CLOSE(m[0], 25.0f / 50.0f, 1e-4);
    BOOST_CHECK_EQUAL(m[1], 0.0f);
    BOOST_CHECK_EQUAL(m[2], 1.0f); // 1 / (10 * floor) = 100, clamped
    BOOST_CHECK_EQUAL(m[3], 1.0f);                                           // clamped
    BOOST_CHECK_CLOSE(m[4], 1.0f, 1e-4); // negative residue takes the floor: 2 / 0.01 -> 1
    BOOST_CHECK_EQUAL(above, 4u);
    // zero floor: a zero window is 0, not NaN
    std::vector<gr_complex> z = { { 0, 0 } };
    std::vector<float> ez = { 0.0f }, mz(1);
    normalized_metric(z.data(), ez.data(), 1.0f, 0.0f, 0.5f, mz.data(), 1);
    BOOST_CHECK_EQUAL(mz[0], 0.0f);
}

// Closed form of the false-alarm rate: for white complex Gaussian noise the
// metric is Beta(1, N - 1), P(metric > t) = (1 - t)^(N - 1). Over W
// independent (non-overlapping) windows at a threshold with P = 1e-2 the
// count is Binomial(W, 1e-2); it must lie within 4.5 standard deviations.
BOOST_AUTO_TEST_CASE(noise_metric_is_beta)
{
    for (size_t len : { 16u, 64u, 256u }) {
        const double p_fa = 1e-2;
        const double t = preamble_fit::default_threshold(len, p_fa, 0.0);
        BOOST_CHECK_CLOSE(preamble_fit::false_alarm_probability(t, len), p_fa, 1e-9);
        const size_t windows = 40000, per_chunk = 1000;
        const auto p = gaussian(len, 99);
        double norm2 = 0;
        for (auto v : p)
            norm2 += std::norm(v);
        fft_correlator corr(p);
        const size_t nout = per_chunk * len;
        std::vector<gr_complex> c(nout);
        std::vector<float> pw(nout + len - 1), e(nout), m(nout);
        size_t count = 0;
        for (size_t chunk = 0; chunk < windows / per_chunk; chunk++) {
            const auto x = gaussian(nout + len - 1, static_cast<unsigned>(1000 * len + chunk));
            corr.correlate(x.data(), c.data(), nout);
            for (size_t k = 0; k < x.size(); k++)
                pw[k] = std::norm(x[k]);
            sliding_energy(pw.data(), len, nout, e.data());
            normalized_metric(c.data(), e.data(), static_cast<float>(norm2), 0.0f, 0.0f, m.data(), nout);
            for (size_t w = 0; w < per_chunk; w++)
                count += m[w * len] > t ? 1 : 0;
        }
        const double mean = windows * p_fa, sd = std::sqrt(windows * p_fa * (1 - p_fa));
        BOOST_TEST_INFO("N=" << len << " count " << count << " expected " << mean);
        BOOST_CHECK_LT(std::abs(static_cast<double>(count) - mean), 4.5 * sd);
    }
}

// cross_metric: a preamble against itself gives metric 1 at lag 0 (and a
// bound clamped to 1); a delayed copy moves the lag; a one-sample a against
// a two-sample b gives the hand-computed metric, and the bound is the
// formula's largest value over the 0..60 dB grid.
BOOST_AUTO_TEST_CASE(cross_metric_known_values)
{
    const auto p = zadoff_chu(7, 61);
    auto l = cross_metric(p, p);
    BOOST_CHECK_EQUAL(l.lag, 0);
    BOOST_CHECK_CLOSE(l.metric, 1.0, 1e-4);
    BOOST_CHECK_CLOSE(l.bound, 1.0, 1e-9);
    std::vector<gr_complex> delayed(10, gr_complex(0, 0));
    delayed.insert(delayed.end(), p.begin(), p.end());
    l = cross_metric(delayed, p);
    BOOST_CHECK_EQUAL(l.lag, 10);
    BOOST_CHECK_CLOSE(l.metric, 1.0, 1e-4);

    const std::vector<gr_complex> a1{ gr_complex(1, 0) };
    const std::vector<gr_complex> b2{ gr_complex(3, 0), gr_complex(0, 4) };
    l = cross_metric(a1, b2);
    BOOST_CHECK_EQUAL(l.lag, -1); // a[0] meets b[1] in the window starting one before a
    BOOST_CHECK_CLOSE(l.metric, 16.0 / 25.0, 1e-4);
    // window -1: |c|^2 = 16, window 0: 9; E = 1, ||b||^2 = 25, mean |a|^2 = 1
    const double z = 4.0, low = std::max(0.0, 1.0 - z / std::sqrt(2.0));
    double want = 0.0;
    for (const double c2 : { 16.0, 9.0 })
        for (int db = 0; db <= 60; db++) {
            const double s2 = std::pow(10.0, -db / 10.0), sw2 = 25.0 * s2;
            want = std::max(want,
                            (c2 + std::sqrt(2.0) * z * std::sqrt(c2) * std::sqrt(sw2) + sw2) /
                                ((1.0 + 2.0 * s2 * low) * 25.0));
        }
    BOOST_CHECK_CLOSE(l.bound, std::min(want, 1.0), 1e-6);
    BOOST_CHECK(l.bound > l.metric);
    BOOST_CHECK_EQUAL(cross_metric(a1, std::vector<gr_complex>{}).bound, 0.0);
}
