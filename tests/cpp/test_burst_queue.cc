/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_burst_queue
#include "kernels/burst_queue.h"
#include <boost/test/unit_test.hpp>
#include <memory>
#include <vector>

using gr::cohere::kernels::burst_queue;
using result = burst_queue::result;

namespace {
burst_queue::samples_ptr ramp(size_t n, float scale = 1.0f)
{
    auto v = std::make_shared<std::vector<gr_complex>>(n);
    for (size_t k = 0; k < n; k++)
        (*v)[k] = gr_complex(scale * (k + 1), -scale * static_cast<float>(k));
    return v;
}

// produce [next, next + n) in chunks of the given sizes (cycled)
std::vector<gr_complex> run(burst_queue& q,
                            size_t n,
                            const std::vector<size_t>& chunks,
                            std::vector<burst_queue::edge>& edges)
{
    std::vector<gr_complex> out(n);
    std::vector<burst_queue::edge> e;
    e.reserve(64);
    size_t pos = 0, i = 0;
    while (pos < n) {
        const size_t m = std::min(chunks[i++ % chunks.size()], n - pos);
        q.mix(out.data() + pos, m, e);
        edges.insert(edges.end(), e.begin(), e.end());
        e.clear();
        pos += m;
    }
    return out;
}
} // namespace

// A burst lands on exactly its start index, bit-exact with unit gain, zeros
// elsewhere; sob on its first and eob on its last sample; chunking does not matter.
BOOST_AUTO_TEST_CASE(exact_placement)
{
    for (const auto& chunks : std::vector<std::vector<size_t>>{ { 1000 }, { 1 }, { 7, 3, 64 } }) {
        burst_queue q(8);
        auto s = ramp(50);
        BOOST_REQUIRE(q.push(123, s, gr_complex(1, 0)) == result::accepted);
        std::vector<burst_queue::edge> edges;
        auto out = run(q, 300, chunks, edges);
        for (size_t k = 0; k < 300; k++) {
            const gr_complex want = (k >= 123 && k < 173) ? (*s)[k - 123] : gr_complex(0, 0);
            BOOST_REQUIRE_EQUAL(out[k], want);
        }
        BOOST_REQUIRE_EQUAL(edges.size(), 2u);
        BOOST_CHECK(edges[0].start && edges[0].index == 123);
        BOOST_CHECK(!edges[1].start && edges[1].index == 172);
        BOOST_CHECK_EQUAL(q.size(), 0u);
        BOOST_CHECK_EQUAL(q.next_index(), 300u);
    }
}

// Out-of-order arrival: bursts are sorted by start; overlapping bursts add
// (with their gains) and form one segment.
BOOST_AUTO_TEST_CASE(out_of_order_and_overlap)
{
    burst_queue q(8);
    auto a = ramp(100), b = ramp(100, 0.5f);
    const gr_complex ga(0, 1), gb(2, 0);
    BOOST_REQUIRE(q.push(150, b, gb) == result::accepted);
    BOOST_REQUIRE(q.push(100, a, ga) == result::accepted);
    std::vector<burst_queue::edge> edges;
    auto out = run(q, 400, { 33 }, edges);
    for (size_t k = 0; k < 400; k++) {
        gr_complex want(0, 0);
        if (k >= 100 && k < 200)
            want += ga * (*a)[k - 100];
        if (k >= 150 && k < 250)
            want += gb * (*b)[k - 150];
        BOOST_REQUIRE_SMALL(std::abs(out[k] - want), 1e-4f);
    }
    BOOST_REQUIRE_EQUAL(edges.size(), 2u);
    BOOST_CHECK(edges[0].start && edges[0].index == 100);
    BOOST_CHECK(!edges[1].start && edges[1].index == 249);
}

// Touching bursts known in advance form one segment; separated bursts two.
BOOST_AUTO_TEST_CASE(segments)
{
    burst_queue q(8);
    q.push(10, ramp(10), gr_complex(1, 0));
    q.push(20, ramp(5), gr_complex(1, 0)); // touches the first
    q.push(40, ramp(5), gr_complex(1, 0)); // separate
    std::vector<burst_queue::edge> edges;
    run(q, 100, { 16 }, edges);
    BOOST_REQUIRE_EQUAL(edges.size(), 4u);
    BOOST_CHECK(edges[0].start && edges[0].index == 10);
    BOOST_CHECK(!edges[1].start && edges[1].index == 24);
    BOOST_CHECK(edges[2].start && edges[2].index == 40);
    BOOST_CHECK(!edges[3].start && edges[3].index == 44);
}

// A burst whose first sample is already produced is refused as late (never
// shifted or cut); a burst at the frontier is accepted; empty bursts and a
// full queue are refused, storing nothing.
BOOST_AUTO_TEST_CASE(late_full_empty)
{
    burst_queue q(2);
    std::vector<burst_queue::edge> edges;
    std::vector<gr_complex> out(100);
    q.mix(out.data(), 100, edges);
    BOOST_CHECK(q.push(99, ramp(10), gr_complex(1, 0)) == result::late);
    BOOST_CHECK(q.push(0, ramp(500), gr_complex(1, 0)) == result::late);
    BOOST_CHECK(q.push(100, std::make_shared<std::vector<gr_complex>>(), gr_complex(1, 0)) ==
                result::empty);
    BOOST_CHECK(q.push(100, nullptr, gr_complex(1, 0)) == result::empty);
    BOOST_CHECK(q.push(100, ramp(3), gr_complex(1, 0)) == result::accepted);
    BOOST_CHECK(q.push(300, ramp(3), gr_complex(1, 0)) == result::accepted);
    BOOST_CHECK(q.push(200, ramp(3), gr_complex(1, 0)) == result::full);
    BOOST_CHECK_EQUAL(q.size(), 2u);
    q.mix(out.data(), 1, edges);
    BOOST_CHECK_EQUAL(out[0], gr_complex(1, 0));
    BOOST_CHECK_THROW(burst_queue(0), std::invalid_argument);
}

// A burst longer than many windows, with a second one arriving mid-way
// (before its start): one segment, exact samples.
BOOST_AUTO_TEST_CASE(long_burst_spanning_windows)
{
    burst_queue q(4);
    auto a = ramp(1000);
    q.push(5, a, gr_complex(1, 0));
    std::vector<burst_queue::edge> edges;
    std::vector<gr_complex> out(2000);
    q.mix(out.data(), 300, edges);
    q.push(900, ramp(200), gr_complex(1, 0)); // overlaps the tail
    q.mix(out.data() + 300, 1700, edges);
    for (size_t k = 5; k < 900; k++)
        BOOST_REQUIRE_EQUAL(out[k], (*a)[k - 5]);
    BOOST_REQUIRE_EQUAL(edges.size(), 2u);
    BOOST_CHECK(edges[0].start && edges[0].index == 5);
    BOOST_CHECK(!edges[1].start && edges[1].index == 1099);
}
