/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_timed_queue
#include "kernels/timed_queue.h"
#include <boost/test/unit_test.hpp>
#include <vector>

using gr::cohere::kernels::timed_queue;

// Immediate entries first (arrival order), then timed ones by time, ties in
// arrival order, whatever order they were pushed in.
BOOST_AUTO_TEST_CASE(ordering)
{
    timed_queue<int> q(16);
    q.push(500, 1);
    q.push(100, 2);
    q.push_immediate(3);
    q.push(500, 4);
    q.push(100, 5);
    q.push_immediate(6);
    std::vector<int> got;
    while (!q.empty())
        got.push_back(q.pop());
    const std::vector<int> want{ 3, 6, 2, 5, 1, 4 };
    BOOST_CHECK_EQUAL_COLLECTIONS(got.begin(), got.end(), want.begin(), want.end());
}

// next_due: an immediate entry is due at the next processed sample; a timed
// one at its time.
BOOST_AUTO_TEST_CASE(next_due)
{
    timed_queue<int> q(4);
    uint64_t due = 0;
    BOOST_CHECK(!q.next_due(10, due));
    q.push(50, 1);
    BOOST_REQUIRE(q.next_due(10, due));
    BOOST_CHECK_EQUAL(due, 50u);
    q.push_immediate(2);
    BOOST_REQUIRE(q.next_due(10, due));
    BOOST_CHECK_EQUAL(due, 10u);
    BOOST_CHECK_EQUAL(q.pop(), 2);
    BOOST_REQUIRE(q.next_due(70, due));
    BOOST_CHECK_EQUAL(due, 70u); // overdue timed entry: now
}

// drop_late removes exactly the timed entries before pos (immediate ones stay).
BOOST_AUTO_TEST_CASE(drop_late)
{
    timed_queue<int> q(8);
    q.push(10, 1);
    q.push(20, 2);
    q.push(30, 3);
    q.push_immediate(4);
    std::vector<uint64_t> late;
    const size_t n =
        q.drop_late(30, [&](const timed_queue<int>::entry& e) { late.push_back(e.time); });
    BOOST_CHECK_EQUAL(n, 2u);
    BOOST_REQUIRE_EQUAL(late.size(), 2u);
    BOOST_CHECK_EQUAL(late[0], 10u);
    BOOST_CHECK_EQUAL(late[1], 20u);
    BOOST_CHECK_EQUAL(q.pop(), 4);
    BOOST_CHECK_EQUAL(q.pop(), 3);
    BOOST_CHECK(q.empty());
}

// The capacity bounds the queue; a refused push stores nothing.
BOOST_AUTO_TEST_CASE(capacity)
{
    timed_queue<int> q(2);
    BOOST_CHECK(q.push(1, 1));
    BOOST_CHECK(q.push_immediate(2));
    BOOST_CHECK(q.full());
    BOOST_CHECK(!q.push(0, 3));
    BOOST_CHECK(!q.push_immediate(4));
    BOOST_CHECK_EQUAL(q.size(), 2u);
    BOOST_CHECK_THROW(timed_queue<int>(0), std::invalid_argument);
}

// push_immediate with a merge folds into the last immediate entry (never
// into a timed one) and needs room only when there is none to fold into.
BOOST_AUTO_TEST_CASE(immediate_entries_fold)
{
    timed_queue<int> q(2);
    const auto add = [](int& last, int next) { last += next; };
    BOOST_CHECK(q.push(5, 100));         // timed: not folded into
    BOOST_CHECK(q.push_immediate(1, add)); // new entry
    BOOST_CHECK(q.full());
    for (int k = 0; k < 1000; k++)
        BOOST_CHECK(q.push_immediate(1, add)); // folded, even when full
    BOOST_CHECK_EQUAL(q.size(), 2u);
    BOOST_CHECK(q.front().immediate);
    BOOST_CHECK_EQUAL(q.pop(), 1001);
    BOOST_CHECK_EQUAL(q.pop(), 100);
    timed_queue<int> full(1);
    BOOST_CHECK(full.push(5, 100));
    BOOST_CHECK(!full.push_immediate(1, add)); // nothing to fold into, no room
}
