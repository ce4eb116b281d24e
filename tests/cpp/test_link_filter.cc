/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_link_filter
#include "kernels/link_filter.h"
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <complex>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
// Run the FIR on x (index 0 .. len-1, zeros outside) for outputs n0 .. n0+m-1.
std::vector<gr_complex> run(const link_fir& fir, const std::vector<gr_complex>& x, int64_t n0, size_t m)
{
    const size_t q = fir.taps.size();
    std::vector<gr_complex> win(m + q - 1), y(m);
    const int64_t lo = n0 - fir.oldest_offset();
    for (size_t i = 0; i < win.size(); i++) {
        const int64_t idx = lo + static_cast<int64_t>(i);
        win[i] = (idx >= 0 && idx < static_cast<int64_t>(x.size())) ? x[idx] : gr_complex(0, 0);
    }
    apply_link_fir(fir, win.data(), y.data(), m);
    return y;
}
} // namespace

// Integer delays are a single exact tap.
BOOST_AUTO_TEST_CASE(integer_delay)
{
    const auto fir = design_link_fir({ 5.0 }, { gr_complex(0.5f, -0.5f) });
    BOOST_CHECK_EQUAL(fir.taps.size(), 1u);
    BOOST_CHECK_EQUAL(fir.k0, 5);
    std::vector<gr_complex> x(64, gr_complex(0, 0));
    x[10] = 1;
    const auto y = run(fir, x, 0, 64);
    BOOST_CHECK_EQUAL(y[15], gr_complex(0.5f, -0.5f));
    BOOST_CHECK_EQUAL(y[14], gr_complex(0, 0));
}

// A fractional delay D shifts an in-band complex tone exp(j 2 pi f n) by the
// phase -2 pi f D with unit gain. The Kaiser (beta 8, 32 taps) interpolator's
// error for |f| <= 0.35 is below 2e-3 in amplitude and phase (design margin of
// the windowed sinc), i.e. a delay error < 2e-3 / (2 pi f).
BOOST_AUTO_TEST_CASE(fractional_delay_tone)
{
    for (double d : { 0.25, 0.5, 3.73, 20.1 }) {
        const auto fir = design_link_fir({ d }, { gr_complex(1, 0) });
        for (double f : { 0.01, 0.1, 0.35, -0.2 }) {
            const size_t len = 400;
            std::vector<gr_complex> x(len);
            for (size_t n = 0; n < len; n++)
                x[n] = std::polar(1.0f, static_cast<float>(2 * M_PI * f * n));
            const auto y = run(fir, x, 100, 100);
            for (size_t k = 0; k < 100; k += 7) {
                const double n = 100.0 + k;
                const std::complex<double> expect = std::polar(1.0, 2 * M_PI * f * (n - d));
                const std::complex<double> got(y[k].real(), y[k].imag());
                BOOST_REQUIRE_SMALL(std::abs(got - expect), 2e-3);
            }
        }
    }
}

// Unit DC gain and multipath superposition.
BOOST_AUTO_TEST_CASE(multipath_dc_gain)
{
    const auto fir = design_link_fir({ 2.0, 4.5 }, { gr_complex(1, 0), gr_complex(0, 0.5f) });
    gr_complex sum(0, 0);
    for (auto t : fir.taps)
        sum += t;
    BOOST_CHECK_SMALL(std::abs(sum - gr_complex(1, 0.5f)), 1e-5f);
}

// Sub-half-length delays need future input: k0 < 0.
BOOST_AUTO_TEST_CASE(short_delay_is_noncausal)
{
    const auto fir = design_link_fir({ 0.5 }, { gr_complex(1, 0) }, 16);
    BOOST_CHECK_EQUAL(fir.k0, -15);
    BOOST_CHECK_EQUAL(fir.taps.size(), 32u);
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(design_link_fir({}, {}), std::invalid_argument);
    BOOST_CHECK_THROW(design_link_fir({ -1.0 }, { gr_complex(1, 0) }), std::invalid_argument);
    BOOST_CHECK_THROW(design_link_fir({ 1.0 }, { gr_complex(1, 0), gr_complex(1, 0) }),
                      std::invalid_argument);
    BOOST_CHECK_THROW(design_link_fir({ NAN }, { gr_complex(1, 0) }), std::invalid_argument);
}

// With a transmitter LO of w rad per sample, the input is x[m] exp(j w m) and
// the FIR must give x(n - d) exp(j w (n - d)): for x = 1 that is exactly the
// LO phase at the emission time (the interpolator's taps sum to one), for any
// w, even near fs / 2 where the plain interpolator is far off (w = 2.0 rad
// per sample is 0.32 fs; a tone of x at 0.1 fs on top of it reaches 0.42 fs).
BOOST_AUTO_TEST_CASE(fractional_delay_after_a_transmitter_lo)
{
    for (double w : { 2.0, -2.9, 0.3 }) {
        for (double d : { 0.5, 7.3 }) {
            const auto fir = design_link_fir({ d }, { gr_complex(1, 0) }, 16, w);
            for (double f : { 0.0, 0.1 }) {
                const size_t len = 400;
                std::vector<gr_complex> x(len);
                for (size_t n = 0; n < len; n++)
                    x[n] = std::polar(1.0f, static_cast<float>(std::remainder(
                                                (2 * M_PI * f + w) * n, 2 * M_PI)));
                const auto y = run(fir, x, 100, 100);
                for (size_t k = 0; k < 100; k += 7) {
                    const double n = 100.0 + k;
                    const std::complex<double> expect =
                        std::polar(1.0, (2 * M_PI * f + w) * (n - d));
                    const std::complex<double> got(y[k].real(), y[k].imag());
                    // f = 0: the taps' DC sum (1 within float rounding);
                    // f = 0.1: the interpolator's in-band error (< 2e-3)
                    BOOST_CHECK_SMALL(std::abs(got - expect), f == 0.0 ? 1e-5 : 2e-3);
                }
            }
            // integer paths are untouched by the LO: one exact tap
            const auto fi = design_link_fir({ 5.0 }, { gr_complex(1, 0) }, 16, w);
            BOOST_CHECK_EQUAL(fi.taps.size(), 1u);
            BOOST_CHECK_EQUAL(fi.taps[0], gr_complex(1, 0));
        }
    }
}
