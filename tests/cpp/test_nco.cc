/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_nco
#include "kernels/nco.h"
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <complex>
#include <limits>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
const double fs = 1e6;
// an awkward frequency: omega is far from any simple fraction of 2 pi
const double f0 = 12345.678901234;
const long double two_pi_ld = 6.283185307179586476925286766559L;

// Reference theta[n] = phase0 + omega n mod 2 pi in 80-bit arithmetic, with
// the NCO's own double omega (computed by the same expression).
double reference_phase(double f, double phase0, uint64_t n)
{
    const double omega = 2.0 * M_PI * f / fs; // |omega| < pi: no wrap
    long double th = static_cast<long double>(phase0) +
                     static_cast<long double>(omega) * static_cast<long double>(n);
    th = std::fmod(th, two_pi_ld);
    if (th >= two_pi_ld / 2)
        th -= two_pi_ld;
    if (th < -two_pi_ld / 2)
        th += two_pi_ld;
    return static_cast<double>(th);
}

// angle of out * exp(+j theta_ref), i.e. the phase error of the derotation
double phase_error(gr_complex out, double theta_ref)
{
    const std::complex<double> z = std::complex<double>(out.real(), out.imag()) *
                                   std::polar(1.0, theta_ref);
    return std::arg(z);
}
} // namespace

// Acceptance: after 1e8 samples (and everywhere before), the derotated unit
// input has a phase error < 3.5e-7 rad against the 80-bit reference: the
// bound of kernels/nco.h (float rounding of the block phasor and of the
// table entry, 2^-25 sqrt(2) each, plus one complex product, sqrt(5) 2^-24;
// the product with the exact 1 + 0j input is exact). The reference's own
// error is < 1e-11 rad at 1e8 samples. The stream is cut into irregular chunks.
BOOST_AUTO_TEST_CASE(phase_error_after_1e8_samples)
{
    const uint64_t total = 100000000;
    const double phase0 = 0.3;
    nco osc(fs, f0, phase0);
    const size_t buf = 1 << 16;
    std::vector<gr_complex> ones(buf, gr_complex(1.0f, 0.0f)), out(buf);
    double max_err = 0.0, max_err_tail = 0.0, max_mag_err = 0.0;
    uint64_t n = 0;
    size_t chunk = 1;
    while (n < total) {
        chunk = chunk * 7 % 65521 + 1; // 1 .. 65521, irregular
        const size_t m = static_cast<size_t>(std::min<uint64_t>(chunk, total - n));
        osc.derotate(ones.data(), out.data(), m);
        const bool tail = n + m + buf >= total;
        for (size_t k = 0; k < m; k += tail ? 1 : 13) {
            const double e = std::abs(phase_error(out[k], reference_phase(f0, phase0, n + k)));
            max_err = std::max(max_err, e);
            if (tail)
                max_err_tail = std::max(max_err_tail, e);
            max_mag_err = std::max(max_mag_err, std::abs(std::abs(std::complex<double>(
                                                             out[k].real(), out[k].imag())) -
                                                         1.0));
        }
        n += m;
    }
    BOOST_TEST_MESSAGE("nco: max phase error over 1e8 samples " << max_err << " rad, last 65536 "
                                                                 << max_err_tail << " rad");
    BOOST_CHECK_EQUAL(osc.position(), total);
    BOOST_CHECK_LT(max_err, 3.5e-7);
    BOOST_CHECK_LT(max_err_tail, 3.5e-7);
    BOOST_CHECK_LT(max_mag_err, 3.5e-7);
    // the state itself has not drifted: phase() is the reference to 1e-11
    BOOST_CHECK_SMALL(std::remainder(osc.phase() - reference_phase(f0, phase0, total), 2 * M_PI),
                      1e-11);
}

// theta is evaluated in closed form: no drift 1e9 samples from the last
// retune, against the 80-bit reference (whose own error is < 1e-10 rad there:
// 2^-64 relative on omega n < 3.2e9 rad).
BOOST_AUTO_TEST_CASE(no_drift_over_1e9_samples)
{
    for (double f : { f0, -f0, 499999.123, 0.001 }) {
        nco osc(fs, f, -1.0);
        osc.advance(1000000000ull);
        BOOST_CHECK_SMALL(std::remainder(osc.phase() - reference_phase(f, -1.0, 1000000000ull),
                                         2 * M_PI),
                          1e-10);
    }
    // reduced_phase is exact to a few ulps for any count: with omega = the
    // double nearest pi/2 = pi/2 - cos(omega) (to 1e-32), omega 2^42 mod 2 pi
    // = -2^42 cos(omega) = -2.69e-4 rad; a plain double product would give 0
    const double omega = M_PI / 2;
    BOOST_CHECK_SMALL(reduced_phase(omega, 1ull << 42) + std::ldexp(std::cos(omega), 42), 1e-15);
}

// Sign convention: derotating exp(+j (2 pi f n / fs + phi)) with (f, phi)
// gives 1 (to float precision).
BOOST_AUTO_TEST_CASE(sign_convention)
{
    const double phi = 1.1;
    nco osc(fs, f0, phi);
    const size_t n = 5000;
    std::vector<gr_complex> x(n), y(n);
    for (size_t k = 0; k < n; k++) {
        const double th = 2 * M_PI * f0 * k / fs + phi;
        x[k] = gr_complex(std::cos(th), std::sin(th));
    }
    osc.derotate(x.data(), y.data(), n);
    for (size_t k = 0; k < n; k++)
        BOOST_REQUIRE_SMALL(std::abs(y[k] - gr_complex(1.0f, 0.0f)), 1e-6f);
}

// A frequency change keeps the phase continuous; set_phase sets theta of the
// next sample exactly; set() does both.
BOOST_AUTO_TEST_CASE(retunes)
{
    nco osc(fs, 1000.0, 0.0);
    std::vector<gr_complex> ones(3000, gr_complex(1, 0)), y(3000);
    osc.derotate(ones.data(), y.data(), 1000);
    const double before = osc.phase();
    BOOST_CHECK_SMALL(std::remainder(before - 2 * M_PI * 1000.0 * 1000 / fs, 2 * M_PI), 1e-12);
    osc.set_frequency(-250.0);
    BOOST_CHECK_SMALL(osc.phase() - before, 1e-15);
    BOOST_CHECK_EQUAL(osc.frequency(), -250.0);
    osc.derotate(ones.data(), y.data(), 1000);
    BOOST_CHECK_SMALL(std::remainder(osc.phase() - (before - 2 * M_PI * 250.0 * 1000 / fs),
                                     2 * M_PI),
                      1e-12);
    osc.set_phase(2.0);
    BOOST_CHECK_CLOSE(osc.phase(), 2.0, 1e-12);
    osc.derotate(ones.data(), y.data(), 1);
    BOOST_CHECK_SMALL(phase_error(y[0], 2.0), 3.5e-7);
    osc.set(3000.0, -0.5);
    BOOST_CHECK_CLOSE(osc.phase(), -0.5, 1e-12);
    BOOST_CHECK_EQUAL(osc.position(), 2001u);
}

// The output depends only on the sample index and the retunes, never on how
// derotate() calls cut the stream: bit-identical results.
BOOST_AUTO_TEST_CASE(chunking_invariance)
{
    const size_t n = 300000;
    std::vector<gr_complex> x(n), a(n), b(n);
    for (size_t k = 0; k < n; k++)
        x[k] = gr_complex(std::cos(0.001 * k), std::sin(0.37 * k));
    nco p(fs, f0, 0.2), q(fs, f0, 0.2);
    p.derotate(x.data(), a.data(), 100000);
    p.set_frequency(-3000.0);
    p.derotate(x.data() + 100000, a.data() + 100000, n - 100000);
    size_t pos = 0, step = 3;
    while (pos < n) {
        size_t m = std::min(step, n - pos);
        if (pos < 100000)
            m = std::min(m, 100000 - pos);
        if (pos == 100000)
            q.set_frequency(-3000.0);
        q.derotate(x.data() + pos, b.data() + pos, m);
        pos += m;
        step = step * 5 % 4093 + 1;
    }
    for (size_t k = 0; k < n; k++)
        BOOST_REQUIRE_EQUAL(a[k], b[k]);
}

// NaN/Inf input samples give non-finite output at those samples only; the
// state is not poisoned (the next samples equal a clean run's bit for bit).
BOOST_AUTO_TEST_CASE(nonfinite_input_does_not_poison)
{
    const size_t n = 5000;
    std::vector<gr_complex> x(n, gr_complex(0.5f, -0.25f)), clean(n), dirty(n);
    nco a(fs, f0, 0.0), b(fs, f0, 0.0);
    a.derotate(x.data(), clean.data(), n);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    const float inf = std::numeric_limits<float>::infinity();
    x[100] = gr_complex(nan, 0.0f);
    x[2000] = gr_complex(inf, -inf);
    b.derotate(x.data(), dirty.data(), n);
    for (size_t k = 0; k < n; k++) {
        if (k == 100 || k == 2000)
            BOOST_CHECK(!std::isfinite(dirty[k].real()) || !std::isfinite(dirty[k].imag()));
        else
            BOOST_REQUIRE_EQUAL(clean[k], dirty[k]);
    }
    BOOST_CHECK(std::isfinite(b.phase()));
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(nco(0.0), std::invalid_argument);
    BOOST_CHECK_THROW(nco(-1.0), std::invalid_argument);
    BOOST_CHECK_THROW(nco(fs, NAN), std::invalid_argument);
    BOOST_CHECK_THROW(nco(fs, 0.0, INFINITY), std::invalid_argument);
    nco osc(fs);
    BOOST_CHECK_THROW(osc.set_frequency(NAN), std::invalid_argument);
    BOOST_CHECK_THROW(osc.set_phase(INFINITY), std::invalid_argument);
    BOOST_CHECK_EQUAL(osc.frequency(), 0.0); // unchanged
}
