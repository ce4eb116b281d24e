/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_correlator
#include "kernels/correlator.h"
#include "test_signals.h"
#include <boost/test/unit_test.hpp>
#include <volk/volk_alloc.hh>
#include <algorithm>
#include <cmath>
#include <complex>
#include <random>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
using cd = std::complex<double>;

// unit-variance real and imaginary parts
std::vector<gr_complex> gaussian(size_t n, unsigned seed)
{
    return gr::cohere::test::gaussian(n, seed, std::sqrt(2.0f));
}

// Double-precision reference: sum_k conj(p[k]) x[n + k].
std::vector<cd> reference(const std::vector<gr_complex>& x, const std::vector<gr_complex>& p, size_t nout)
{
    std::vector<cd> out(nout);
    for (size_t n = 0; n < nout; n++) {
        cd s(0, 0);
        for (size_t k = 0; k < p.size(); k++)
            s += std::conj(cd(p[k])) * cd(x[n + k]);
        out[n] = s;
    }
    return out;
}

// Float rounding bound: each output is a sum of N products of unit-variance
// terms, |c| ~ sqrt(N); float sums (direct) or FFTs of size M (relative error
// ~ 1e-7 log2 M of the block's norm) stay far below 1e-4 sqrt(N) per output.
double max_error(const std::vector<gr_complex>& got, const std::vector<cd>& ref)
{
    double e = 0;
    for (size_t i = 0; i < ref.size(); i++)
        e = std::max(e, std::abs(cd(got[i]) - ref[i]));
    return e;
}
} // namespace

// Both variants equal the double-precision definition for short and long
// sequences, for output counts that are and are not multiples of a step.
BOOST_AUTO_TEST_CASE(variants_match_definition)
{
    for (size_t n : { 16u, 37u, 64u, 256u, 1024u }) {
        const auto p = gaussian(n, 1 + n);
        for (size_t nout : { 1u, 100u, 3073u, 5000u }) {
            const auto x = gaussian(nout + n - 1, 7 + nout);
            const auto ref = reference(x, p, nout);
            const double tol = 1e-4 * std::sqrt(static_cast<double>(n)) * 4;
            direct_correlator d(p);
            fft_correlator f(p);
            std::vector<gr_complex> od(nout), of(nout);
            d.correlate(x.data(), od.data(), nout);
            f.correlate(x.data(), of.data(), nout);
            BOOST_TEST_INFO("N=" << n << " nout=" << nout);
            BOOST_CHECK_LT(max_error(od, ref), tol);
            BOOST_CHECK_LT(max_error(of, ref), tol);
        }
    }
}

// Overlap-save state does not leak between steps: results do not depend on
// how a stream is cut into calls, nor on the FFT size.
BOOST_AUTO_TEST_CASE(cuts_and_fft_sizes)
{
    const size_t n = 100, total = 10000;
    const auto p = gaussian(n, 3);
    const auto x = gaussian(total + n - 1, 4);
    const auto ref = reference(x, p, total);
    for (size_t m : { 256u, 1024u, 8192u }) {
        fft_correlator f(p, m);
        BOOST_CHECK_EQUAL(f.fft_size(), m);
        BOOST_CHECK_EQUAL(f.block_outputs(), (m - n + 1) / 4 * 4);
        BOOST_CHECK_EQUAL(f.input_span(), m);
        std::vector<gr_complex> out(total);
        size_t done = 0, cut = 1;
        while (done < total) {
            const size_t cnt = std::min(total - done, cut);
            f.correlate(x.data() + done, out.data() + done, cnt);
            done += cnt;
            cut = cut * 3 + 1;
        }
        BOOST_CHECK_LT(max_error(out, ref), 4e-3);
    }
}

// step() returns at most block_outputs() values for the window starting at x.
BOOST_AUTO_TEST_CASE(step_semantics)
{
    const auto p = gaussian(64, 5);
    const auto x = gaussian(2000, 6);
    fft_correlator f(p);
    const size_t blk = f.block_outputs();
    BOOST_CHECK_EQUAL(f.fft_size(), fft_correlator::default_fft_size(64));
    const gr_complex* c = f.step(x.data() + 10, blk);
    const auto ref = reference(std::vector<gr_complex>(x.begin() + 10, x.end()), p, blk);
    std::vector<gr_complex> got(c, c + blk);
    BOOST_CHECK_LT(max_error(got, ref), 4e-3);
}

// full_step() reads the input span in place when the input is aligned like
// the FFT buffers and through a copy when it is not: the same bits either
// way, the input untouched, and the outputs those of step() to rounding.
BOOST_AUTO_TEST_CASE(full_step_in_place_and_copied)
{
    for (size_t n : { 16u, 100u, 1024u }) {
        const auto p = gaussian(n, 11 + n);
        fft_correlator f(p);
        const size_t blk = f.block_outputs(), span = f.input_span();
        BOOST_CHECK_EQUAL(blk % 4, 0u);
        BOOST_CHECK_GE(span, blk + n - 1);
        BOOST_CHECK_LE(span, blk + n + 2);
        // an aligned buffer, read at aligned and misaligned starts
        volk::vector<gr_complex> x(span + 8);
        const auto g = gaussian(span + 8, 12 + n);
        std::copy(g.begin(), g.end(), x.begin());
        const std::vector<gr_complex> before(x.begin(), x.end());
        for (size_t off : { 0u, 1u, 2u, 4u }) {
            BOOST_TEST_INFO("N=" << n << " offset " << off);
            const gr_complex* c = f.full_step(x.data() + off);
            const std::vector<gr_complex> direct(c, c + blk);
            const std::vector<gr_complex> copy(x.begin() + off, x.begin() + off + span);
            c = f.full_step(copy.data());
            BOOST_CHECK(std::equal(direct.begin(), direct.end(), c));
            const auto ref = reference(copy, p, blk);
            BOOST_CHECK_LT(max_error(direct, ref), 1e-4 * std::sqrt(static_cast<double>(n)) * 4);
        }
        BOOST_CHECK(std::equal(before.begin(), before.end(), x.begin()));
    }
}

// The factory picks the FFT form from k_fft_min_length on.
BOOST_AUTO_TEST_CASE(factory_choice)
{
    BOOST_CHECK_EQUAL(std::string(make_correlator(gaussian(4, 1))->name()), "direct");
    BOOST_CHECK_EQUAL(std::string(make_correlator(gaussian(16, 1))->name()), "fft");
    BOOST_CHECK_EQUAL(std::string(make_correlator(gaussian(4096, 1))->name()), "fft");
    BOOST_CHECK_EQUAL(fft_correlator::default_fft_size(16), 128u);
    BOOST_CHECK_EQUAL(fft_correlator::default_fft_size(64), 512u);
    BOOST_CHECK_EQUAL(fft_correlator::default_fft_size(1024), 4096u);
    BOOST_CHECK_EQUAL(fft_correlator::default_fft_size(4096), 16384u);
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(direct_correlator(std::vector<gr_complex>{}), std::invalid_argument);
    BOOST_CHECK_THROW(fft_correlator(std::vector<gr_complex>{}), std::invalid_argument);
    BOOST_CHECK_THROW(fft_correlator(gaussian(64, 1), 100), std::invalid_argument);
    BOOST_CHECK_THROW(fft_correlator(gaussian(64, 1), 64), std::invalid_argument);
}
