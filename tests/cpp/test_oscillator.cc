/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_oscillator
#include "kernels/fast_math.h"
#include "kernels/oscillator.h"
#include "kernels/rng.h"
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
const double fs = 5e6, fc = 920e6;
}

// Without phase noise the phase is phi_0 + 2 pi df n / fs exactly (up to the
// fixed-point rounding of the increment, 2 pi 2^-65 rad per sample: < 1e-12
// rad after 1e6 samples; 1e-9 leaves room for the double reference).
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

// phasor_one against double-precision cos/sin at every quadrant boundary
// (and one step either side) and at random phases: absolute error < 3e-7
// (float polynomials on [-pi/4, pi/4] plus the float rounding of the reduced
// angle, about 5e-8).
BOOST_AUTO_TEST_CASE(fixed_phasors_accuracy)
{
    std::vector<uint32_t> p32;
    for (uint32_t q = 0; q < 8; q++)
        for (int d = -1; d <= 1; d++)
            p32.push_back((q << 29) + static_cast<uint32_t>(d));
    xoshiro256 g(5);
    for (int i = 0; i < 100000; i++)
        p32.push_back(static_cast<uint32_t>(g.next() >> 32));
    std::vector<gr_complex> out(p32.size());
    for (size_t k = 0; k < p32.size(); k++) {
        float re, im;
        phasor_one(p32[k], re, im);
        out[k] = gr_complex(re, im);
    }
    float worst = 0;
    for (size_t k = 0; k < p32.size(); k++) {
        const double a = 2 * M_PI * static_cast<double>(p32[k]) * 0x1.0p-32;
        worst = std::max(worst, std::abs(out[k] - gr_complex(std::cos(a), std::sin(a))));
    }
    BOOST_CHECK_SMALL(worst, 3e-7f);
    // fixed_phasors (64-bit phases) uses the top 32 bits
    std::vector<uint64_t> p64(p32.size());
    for (size_t k = 0; k < p32.size(); k++)
        p64[k] = (static_cast<uint64_t>(p32[k]) << 32) | (g.next() >> 33);
    std::vector<gr_complex> out64(p64.size());
    fixed_phasors(p64.data(), out64.data(), p64.size());
    for (size_t k = 0; k < p64.size(); k++)
        BOOST_REQUIRE_EQUAL(out64[k], out[k]);
}

// phase_to_fixed / fixed_to_phase: the round trip wraps to [-pi, pi) and is
// exact up to double rounding, a few ulps of max(pi, |a|) (a / 2 pi loses the
// low bits of a large angle), including angles far outside and just below +pi.
BOOST_AUTO_TEST_CASE(fixed_point_phase_round_trip)
{
    for (double a : { 0.0, 1.0, -1.0, 3.0, -M_PI, std::nextafter(M_PI, 0.0), 7.5, -100.25, 1e6 }) {
        const double back = fixed_to_phase(phase_to_fixed(a));
        BOOST_CHECK(back >= -M_PI && back < M_PI);
        BOOST_CHECK_SMALL(wrap_phase(back - a), 4 * 0x1.0p-52 * std::max(M_PI, std::abs(a)));
    }
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(oscillator(0.0, fc, 0, 0, 0, 1), std::invalid_argument);
    BOOST_CHECK_THROW(oscillator(fs, fc, 0, -1e-18, 0, 1), std::invalid_argument);
    BOOST_CHECK_THROW(oscillator(fs, fc, NAN, 0, 0, 1), std::invalid_argument);
    // increment std sqrt(4 pi^2 fc^2 c / fs) above 2 rad
    const double c_max = 4.0 * fs / (4 * M_PI * M_PI * fc * fc);
    BOOST_CHECK_NO_THROW(oscillator(fs, fc, 0, 0.99 * c_max, 0, 1));
    BOOST_CHECK_THROW(oscillator(fs, fc, 0, 1.01 * c_max, 0, 1), std::invalid_argument);
}
