/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_oscillator
#include "kernels/oscillator.h"
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
const double fs = 5e6, fc = 920e6;
}

// Without phase noise the phase is phi_0 + 2 pi df n / fs exactly (up to the
// double rounding of the running sum: < 1e-9 rad after 1e6 samples).
BOOST_AUTO_TEST_CASE(deterministic_phase)
{
    oscillator osc(fs, fc, 10.0, 0.0, 0.3, 1);
    BOOST_CHECK_CLOSE(osc.frequency_offset(), 9200.0, 1e-9);
    const size_t n = 1000000;
    std::vector<double> ph(n);
    osc.generate_phase(ph.data(), n);
    for (size_t k = 0; k < n; k += 997) {
        const double expect = wrap_phase(0.3 + 2 * M_PI * 9200.0 * k / fs);
        BOOST_REQUIRE_SMALL(wrap_phase(ph[k] - expect), 1e-9);
    }
}

// The complex output equals exp(j phi) of the phase output (float precision:
// 1e-6), with phase noise on, across the 128-sample re-seeding of the rotator.
BOOST_AUTO_TEST_CASE(rotator_matches_phase)
{
    oscillator a(fs, fc, -3.0, 1e-17, 0.0, 42), b(fs, fc, -3.0, 1e-17, 0.0, 42);
    const size_t n = 100000;
    std::vector<gr_complex> rot(n);
    std::vector<double> ph(n);
    a.generate(rot.data(), n);
    b.generate_phase(ph.data(), n);
    for (size_t k = 0; k < n; k++) {
        BOOST_REQUIRE_SMALL(std::abs(rot[k] - gr_complex(std::cos(ph[k]), std::sin(ph[k]))), 2e-6f);
    }
}

// Wiener increments: variance 4 pi^2 fc^2 c / fs. With n - 1 = 199999
// increments, (n-1) s^2 / sigma^2 ~ chi2(n-1): the 99.9 % interval is
// sigma^2 (1 +- 3.29 sqrt(2 / (n-1))) = sigma^2 (1 +- 0.0104).
BOOST_AUTO_TEST_CASE(phase_noise_variance)
{
    const double c = 1e-18;
    oscillator osc(fs, fc, 0.0, c, 0.0, 3);
    const double sigma2 = 4 * M_PI * M_PI * fc * fc * c / fs;
    BOOST_CHECK_CLOSE(osc.increment_variance(), sigma2, 1e-9);
    const size_t n = 200000;
    std::vector<double> ph(n);
    osc.generate_phase(ph.data(), n);
    double s = 0, s2 = 0;
    for (size_t k = 1; k < n; k++) {
        const double d = wrap_phase(ph[k] - ph[k - 1]);
        s += d;
        s2 += d * d;
    }
    const double m = n - 1;
    const double var = s2 / m - (s / m) * (s / m);
    BOOST_CHECK_SMALL(var / sigma2 - 1.0, 3.29 * std::sqrt(2.0 / m));
}

// Output depends only on the sample index, not on how generate() is called.
BOOST_AUTO_TEST_CASE(chunking_invariance)
{
    oscillator a(fs, fc, 7.0, 5e-18, 1.0, 11), b(fs, fc, 7.0, 5e-18, 1.0, 11);
    a.schedule_retune(5000, -2.0);
    b.schedule_retune(5000, -2.0);
    const size_t n = 20000;
    std::vector<gr_complex> x(n), y(n);
    a.generate(x.data(), n);
    size_t pos = 0, step = 1;
    while (pos < n) {
        const size_t m = std::min(step, n - pos);
        b.generate(y.data() + pos, m);
        pos += m;
        step = step * 3 % 1001 + 1;
    }
    for (size_t k = 0; k < n; k++)
        BOOST_REQUIRE_EQUAL(x[k], y[k]);
}

// A retune replaces the phase at exactly the scheduled sample.
BOOST_AUTO_TEST_CASE(retune_at_sample)
{
    oscillator osc(fs, fc, 1.0, 0.0, 0.0, 1);
    osc.schedule_retune(1000, 2.5);
    std::vector<double> ph(2000);
    osc.generate_phase(ph.data(), ph.size());
    BOOST_CHECK_CLOSE(ph[1000], 2.5, 1e-12);
    const double w = 2 * M_PI * 920.0 / fs;
    BOOST_CHECK_SMALL(wrap_phase(ph[999] - 999 * w), 1e-9);
    BOOST_CHECK_SMALL(wrap_phase(ph[1500] - (2.5 + 500 * w)), 1e-9);
    BOOST_CHECK_EQUAL(osc.retune_late(), 0u);
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(oscillator(0.0, fc, 0, 0, 0, 1), std::invalid_argument);
    BOOST_CHECK_THROW(oscillator(fs, fc, 0, -1e-18, 0, 1), std::invalid_argument);
    BOOST_CHECK_THROW(oscillator(fs, fc, NAN, 0, 0, 1), std::invalid_argument);
}
