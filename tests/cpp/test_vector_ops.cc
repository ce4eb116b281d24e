/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_vector_ops
#include "kernels/vector_ops.h"
#include "test_signals.h"
#include <boost/test/unit_test.hpp>
#include <cstring>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
bool same_bits(const std::vector<gr_complex>& a, const std::vector<gr_complex>& b)
{
    return a.size() == b.size() &&
           std::memcmp(a.data(), b.data(), a.size() * sizeof(gr_complex)) == 0;
}
} // namespace

// cmac_many: the bits of that many cmac calls in order, for any number of
// terms (groups of four and a rest); with fresh, the bits of cmac calls on a
// zeroed sum, without reading the sum, signed zeros included (zero inputs
// times negative gains give -0 products).
BOOST_AUTO_TEST_CASE(cmac_many_matches_cmac_calls)
{
    const size_t n = 1001;
    for (size_t terms = 0; terms <= 9; terms++) {
        std::vector<std::vector<gr_complex>> x;
        std::vector<const gr_complex*> xp;
        std::vector<gr_complex> g;
        for (size_t t = 0; t < terms; t++) {
            x.push_back(gr::cohere::test::gaussian(n, static_cast<unsigned>(10 + t)));
            for (size_t k = 0; k < n; k += 7)
                x.back()[k] = gr_complex(0, 0);
            g.emplace_back(-0.5f - 0.1f * t, -0.25f + 0.2f * t);
        }
        for (const auto& v : x)
            xp.push_back(v.data());
        const auto start = gr::cohere::test::gaussian(n, 3);
        for (bool fresh : { false, true }) {
            BOOST_TEST_INFO("terms " << terms << (fresh ? " fresh" : ""));
            std::vector<gr_complex> ref =
                fresh ? std::vector<gr_complex>(n, gr_complex(0, 0)) : start;
            for (size_t t = 0; t < terms; t++)
                cmac(ref.data(), x[t].data(), g[t], n);
            // a fresh sum is never read: fill it with NaNs
            std::vector<gr_complex> got =
                fresh ? std::vector<gr_complex>(n, gr_complex(NAN, NAN)) : start;
            cmac_many(got.data(), xp.data(), g.data(), terms, n, fresh);
            BOOST_CHECK(same_bits(got, ref));
        }
    }
}
