/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_rng
#include "kernels/fast_math.h"
#include "kernels/normal_stream.h"
#include "kernels/rng.h"
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <vector>

using namespace gr::cohere::kernels;

// Sample moments of n = 2e6 N(0,1) draws. Standard errors: mean 1/sqrt(n)
// = 7.1e-4, variance sqrt(2/n) = 1e-3, kurtosis sqrt(24/n) = 3.5e-3. Bounds
// are 5 standard errors (false failure probability < 1e-6 per check).
BOOST_AUTO_TEST_CASE(gaussian_moments)
{
    gaussian_rng g(1234);
    const size_t n = 2000000;
    double s1 = 0, s2 = 0, s4 = 0;
    size_t beyond3 = 0;
    for (size_t i = 0; i < n; i++) {
        const double x = g();
        s1 += x;
        s2 += x * x;
        s4 += x * x * x * x;
        beyond3 += std::abs(x) > 3.0;
    }
    const double mean = s1 / n, var = s2 / n - mean * mean, kurt = (s4 / n) / (var * var);
    BOOST_CHECK_SMALL(mean, 5 * 7.1e-4);
    BOOST_CHECK_SMALL(var - 1.0, 5 * 1e-3);
    BOOST_CHECK_SMALL(kurt - 3.0, 5 * 3.5e-3);
    // tail mass P(|x| > 3) = 2.6998e-3; binomial std sqrt(p(1-p)/n) = 3.7e-5
    BOOST_CHECK_SMALL(static_cast<double>(beyond3) / n - 2.6998e-3, 5 * 3.7e-5);
}

// The ziggurat's tail beyond R = 3.654 must be sampled: P(|x| > 4) = 6.334e-5.
BOOST_AUTO_TEST_CASE(gaussian_tail)
{
    gaussian_rng g(99);
    const size_t n = 4000000;
    size_t beyond4 = 0;
    for (size_t i = 0; i < n; i++)
        beyond4 += std::abs(g()) > 4.0;
    const double p = 6.334e-5, sd = std::sqrt(p / n);
    BOOST_CHECK_SMALL(static_cast<double>(beyond4) / n - p, 5 * sd);
}

// Same seed, same stream; different derived seeds, different streams.
BOOST_AUTO_TEST_CASE(determinism_and_streams)
{
    gaussian_rng a(7), b(7), c(derive_seed(7, 1));
    bool differs = false;
    for (int i = 0; i < 1000; i++) {
        const double x = a(), y = b(), z = c();
        BOOST_REQUIRE_EQUAL(x, y);
        differs = differs || x != z;
    }
    BOOST_CHECK(differs);
    BOOST_CHECK_NE(derive_seed(1, 2, 3), derive_seed(1, 3, 2));
    BOOST_CHECK_NE(derive_seed(1, 2), derive_seed(2, 2));
}

// Uniform draws lie in [0, 1) with mean 1/2 (std error 1/sqrt(12 n)).
BOOST_AUTO_TEST_CASE(uniform_range)
{
    xoshiro256 g(5);
    const size_t n = 1000000;
    double s = 0;
    for (size_t i = 0; i < n; i++) {
        const double u = g.uniform();
        BOOST_REQUIRE(u >= 0.0 && u < 1.0);
        s += u;
    }
    BOOST_CHECK_SMALL(s / n - 0.5, 5 / std::sqrt(12.0 * n));
}

// The batched Box-Muller stream: same moment and tail checks as the ziggurat
// (5 standard errors), P(|x| > 4) = 6.334e-5 with binomial std error.
BOOST_AUTO_TEST_CASE(normal_stream_moments_and_tails)
{
    normal_stream g(77);
    const size_t n = 4000000;
    std::vector<float> x(n);
    g.fill(x.data(), n);
    double s1 = 0, s2 = 0, s4 = 0;
    size_t beyond3 = 0, beyond4 = 0;
    for (float v : x) {
        s1 += v;
        s2 += double(v) * v;
        s4 += double(v) * v * v * v;
        beyond3 += std::abs(v) > 3.0f;
        beyond4 += std::abs(v) > 4.0f;
    }
    const double mean = s1 / n, var = s2 / n - mean * mean, kurt = (s4 / n) / (var * var);
    BOOST_CHECK_SMALL(mean, 5 / std::sqrt(double(n)));
    BOOST_CHECK_SMALL(var - 1.0, 5 * std::sqrt(2.0 / n));
    BOOST_CHECK_SMALL(kurt - 3.0, 5 * std::sqrt(24.0 / n));
    BOOST_CHECK_SMALL(double(beyond3) / n - 2.6998e-3, 5 * std::sqrt(2.6998e-3 / n));
    BOOST_CHECK_SMALL(double(beyond4) / n - 6.334e-5, 5 * std::sqrt(6.334e-5 / n));
}

// Consecutive pairs are uncorrelated (Box-Muller's cos/sin outputs are
// independent): |corr| < 5 / sqrt(n).
BOOST_AUTO_TEST_CASE(normal_stream_pairs_uncorrelated)
{
    normal_stream g(3);
    const size_t n = 1000000;
    std::vector<float> x(2 * n);
    g.fill(x.data(), x.size());
    double c = 0, c1 = 0;
    for (size_t i = 0; i < n; i++) {
        c += double(x[2 * i]) * x[2 * i + 1];
        c1 += double(x[2 * i + 1]) * x[(2 * i + 2) % x.size()];
    }
    BOOST_CHECK_SMALL(c / n, 5 / std::sqrt(double(n)));
    BOOST_CHECK_SMALL(c1 / n, 5 / std::sqrt(double(n)));
}

// The sequence does not depend on how fill() calls are sized.
BOOST_AUTO_TEST_CASE(normal_stream_chunking)
{
    normal_stream a(9), b(9);
    std::vector<float> x(5000), y(5000);
    a.fill(x.data(), x.size());
    size_t pos = 0, step = 1;
    while (pos < y.size()) {
        const size_t m = std::min(step, y.size() - pos);
        b.fill(y.data() + pos, m);
        pos += m;
        step = step * 7 % 613 + 1;
    }
    for (size_t i = 0; i < x.size(); i++)
        BOOST_REQUIRE_EQUAL(x[i], y[i]);
}

// take() hands out the same sequence in place, in pieces of at most max
// (never empty), however the pieces are asked for.
BOOST_AUTO_TEST_CASE(normal_stream_take_in_place)
{
    normal_stream a(21), b(21);
    std::vector<float> x(7000), y;
    a.fill(x.data(), x.size());
    size_t max = 2;
    while (y.size() < x.size()) {
        const float* z = nullptr;
        const size_t got = b.take(std::min(max, x.size() - y.size()), z);
        BOOST_REQUIRE(got >= 1 && got <= max);
        y.insert(y.end(), z, z + got);
        max = max * 5 % 998 + 2;
    }
    for (size_t i = 0; i < x.size(); i++)
        BOOST_REQUIRE_EQUAL(x[i], y[i]);
}

// log_one against std::log over (0, 1] and beyond: relative error < 1e-6.
BOOST_AUTO_TEST_CASE(log_one_accuracy)
{
    std::vector<float> x, y;
    for (double v = 1e-9; v < 1e6; v *= 1.0137)
        x.push_back(static_cast<float>(v));
    for (float v : x)
        y.push_back(log_one(v));
    for (size_t i = 0; i < x.size(); i++)
        BOOST_REQUIRE_SMALL(double(y[i]) - std::log(double(x[i])), 1e-6 * std::max(1.0, std::abs(std::log(double(x[i])))));
}
