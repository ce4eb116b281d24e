/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_peak_picker
#include "kernels/peak_picker.h"
#include <boost/test/unit_test.hpp>
#include <random>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
std::vector<peak> run(peak_picker& pk, const std::vector<float>& m, uint64_t first = 0)
{
    std::vector<peak> out;
    pk.process(m.data(), m.size(), first, out);
    return out;
}
} // namespace

// One crossing: the largest value of the window [n1, n1 + N) is reported once.
BOOST_AUTO_TEST_CASE(one_peak_per_crossing)
{
    std::vector<float> m(300, 0.01f);
    m[100] = 0.2f; // crossing
    m[120] = 0.9f; // peak
    m[121] = 0.5f;
    peak_picker pk(64, 64, 0.1f);
    const auto out = run(pk, m);
    BOOST_REQUIRE_EQUAL(out.size(), 1u);
    BOOST_CHECK_EQUAL(out[0].index, 120u);
    BOOST_CHECK_EQUAL(out[0].metric, 0.9f);
    BOOST_CHECK(!pk.open());
}

// Sidelobes: one before the peak (inside the window that starts at the early
// crossing) and one after it (inside the holdoff) give no extra detection;
// ties keep the first index.
BOOST_AUTO_TEST_CASE(sidelobes_and_ties)
{
    std::vector<float> m(1000, 0.0f);
    m[200] = 0.5f;  // early sidelobe (N/2 before)
    m[232] = 1.0f;  // peak
    m[264] = 0.5f;  // late sidelobe (N/2 after)
    m[295] = 0.3f;  // still inside peak + N
    m[600] = 0.7f;  // next occurrence
    m[610] = 0.7f;  // tie: the first one wins
    peak_picker pk(64, 64, 0.1f);
    const auto out = run(pk, m);
    BOOST_REQUIRE_EQUAL(out.size(), 2u);
    BOOST_CHECK_EQUAL(out[0].index, 232u);
    BOOST_CHECK_EQUAL(out[1].index, 600u);
}

// A noise crossing shortly before a preamble does not hide it: the window
// extends while the metric keeps rising (N after the latest maximum, at most
// 2 N after the crossing), or closes on the noise peak early enough.
BOOST_AUTO_TEST_CASE(noise_before_preamble)
{
    const size_t n = 64;
    for (size_t lead : { 5u, 40u, 70u, 100u, 127u }) {
        std::vector<float> m(1000, 0.0f);
        const size_t p = 500;
        m[p - lead] = 0.15f; // noise crossing
        for (size_t k = 1; k < n; k++) // rising edge of the preamble (partial overlap)
            m[p - k] = 0.8f * static_cast<float>(n - k) / n;
        m[p] = 0.8f;
        peak_picker pk(n, n, 0.1f);
        const auto out = run(pk, m);
        BOOST_TEST_INFO("lead " << lead);
        BOOST_REQUIRE(!out.empty());
        BOOST_CHECK_EQUAL(out.back().index, p);
    }
}

// The result does not depend on how the metric stream is cut into calls.
BOOST_AUTO_TEST_CASE(streaming_equals_batch)
{
    std::mt19937 gen(3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> m(20000);
    for (auto& v : m)
        v = u(gen) < 0.002f ? u(gen) : 0.05f * u(gen);
    peak_picker a(50, 50, 0.2f), b(50, 50, 0.2f);
    const auto ref = run(a, m, 1000);
    std::vector<peak> got;
    size_t pos = 0, cut = 1;
    while (pos < m.size()) {
        const size_t n = std::min(m.size() - pos, cut);
        b.process(m.data() + pos, n, 1000 + pos, got);
        pos += n;
        cut = (cut * 7) % 97 + 1;
    }
    BOOST_REQUIRE_EQUAL(got.size(), ref.size());
    BOOST_CHECK_GT(ref.size(), 10u);
    for (size_t i = 0; i < ref.size(); i++) {
        BOOST_CHECK_EQUAL(got[i].index, ref[i].index);
        BOOST_CHECK_EQUAL(got[i].metric, ref[i].metric);
        if (i > 0)
            BOOST_CHECK_GE(ref[i].index, ref[i - 1].index + 50); // holdoff
    }
}

// pending_bound: no future peak can come before it; flush closes an open window.
BOOST_AUTO_TEST_CASE(bound_and_flush)
{
    peak_picker pk(64, 64, 0.1f);
    std::vector<float> m(100, 0.0f);
    m[90] = 0.5f;
    BOOST_CHECK(run(pk, m).empty());
    BOOST_CHECK(pk.open());
    BOOST_CHECK_EQUAL(pk.pending_bound(100), 90u);
    peak p;
    BOOST_CHECK(pk.flush(p));
    BOOST_CHECK_EQUAL(p.index, 90u);
    BOOST_CHECK(!pk.flush(p));
    BOOST_CHECK_EQUAL(pk.pending_bound(100), 154u); // holdoff after the peak
    BOOST_CHECK_EQUAL(pk.pending_bound(200), 200u);
    pk.reset();
    BOOST_CHECK_EQUAL(pk.pending_bound(5), 5u);
    BOOST_CHECK_THROW(peak_picker(0, 1, 0.5f), std::invalid_argument);
}
