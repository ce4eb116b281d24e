/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
/*!
 * \brief Test signals shared by the C++ kernel tests.
 */
#ifndef INCLUDED_COHERE_TEST_SIGNALS_H
#define INCLUDED_COHERE_TEST_SIGNALS_H

#include <gnuradio/gr_complex.h>
#include <cmath>
#include <random>
#include <vector>

namespace gr {
namespace cohere {
namespace test {

//! n samples of complex white Gaussian noise of power scale^2 (seeded).
inline std::vector<gr_complex> gaussian(size_t n, unsigned seed, float scale = 1.0f)
{
    std::mt19937 gen(seed);
    std::normal_distribution<float> nd(0.0f, scale * std::sqrt(0.5f));
    std::vector<gr_complex> v(n);
    for (auto& x : v)
        x = gr_complex(nd(gen), nd(gen));
    return v;
}

//! Zadoff-Chu sequence of root u and length n (unit magnitude).
inline std::vector<gr_complex> zadoff_chu(int root, int n)
{
    std::vector<gr_complex> p(static_cast<size_t>(n));
    for (int k = 0; k < n; k++) {
        const double arg = std::fmod(static_cast<double>(root) * k * (k + n % 2), 2.0 * n);
        p[static_cast<size_t>(k)] = std::polar(1.0f, static_cast<float>(-M_PI * arg / n));
    }
    return p;
}

} // namespace test
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_TEST_SIGNALS_H */
