/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_ofdm_pilots
#include "kernels/ofdm_pilots.h"
#include <boost/test/unit_test.hpp>
#include <algorithm>
#include <cmath>
#include <complex>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
// 64-point map: pilots at -24, -12, 12, 24 (+ edges), data elsewhere in -26..26, DC null
std::vector<int> test_map()
{
    std::vector<int> m(64, 0);
    for (int p = -26; p <= 26; p++)
        if (p != 0)
            m[p + 32] = (p % 12 == 0 || std::abs(p) == 26) ? 2 : 1;
    return m;
}

// Unitary IDFT of a centred grid, with a CP, through a channel H(k) = h exp(-j 2 pi k d / N).
std::vector<gr_complex> make_symbol(const std::vector<std::complex<double>>& grid, int cp,
                                    std::complex<double> h, double d)
{
    const int n = static_cast<int>(grid.size());
    std::vector<gr_complex> x(n + cp);
    for (int t = 0; t < n; t++) {
        std::complex<double> s(0, 0);
        for (int i = 0; i < n; i++) {
            const int k = i - n / 2;
            s += grid[i] * h * std::polar(1.0, -2 * M_PI * k * d / n) *
                 std::polar(1.0, 2 * M_PI * k * t / n);
        }
        s /= std::sqrt(double(n));
        x[cp + t] = gr_complex(s.real(), s.imag());
        if (t >= n - cp)
            x[t - (n - cp)] = x[cp + t];
    }
    return x;
}
} // namespace

// Flat channel: LS pilots equal h, the common value equals h, equalized data
// equal the sent data (float precision of a 64-point DFT: 1e-5).
BOOST_AUTO_TEST_CASE(flat_channel)
{
    const auto map = test_map();
    std::vector<gr_complex> pilots;
    std::vector<std::complex<double>> grid(64, 0.0), sent;
    int n = 0;
    for (int i = 0; i < 64; i++) {
        if (map[i] == 2) {
            const auto p = std::polar(1.0, 0.7 * n++);
            pilots.push_back(gr_complex(p.real(), p.imag()));
            grid[i] = p;
        } else if (map[i] == 1) {
            grid[i] = std::complex<double>((i % 2) ? 1 : -1, (i % 3) ? 1 : -1) / std::sqrt(2.0);
            sent.push_back(grid[i]);
        }
    }
    ofdm_pilots k(64, 16, map, pilots);
    BOOST_REQUIRE_EQUAL(k.num_pilots(), pilots.size());
    BOOST_REQUIRE_EQUAL(k.num_data(), sent.size());
    const std::complex<double> h = std::polar(0.5, 1.1);
    const auto x = make_symbol(grid, 16, h, 0.0);
    std::vector<gr_complex> ls(k.num_pilots()), raw(k.num_data()), eq(k.num_data());
    const gr_complex c = k.process(x.data(), ls.data(), raw.data(), eq.data());
    BOOST_CHECK_SMALL(std::abs(std::complex<double>(c) - h), 1e-5);
    for (auto v : ls)
        BOOST_CHECK_SMALL(std::abs(std::complex<double>(v) - h), 1e-5);
    for (size_t d = 0; d < sent.size(); d++) {
        BOOST_CHECK_SMALL(std::abs(std::complex<double>(eq[d]) - sent[d]), 1e-5);
        BOOST_CHECK_SMALL(std::abs(std::complex<double>(raw[d]) - h * sent[d]), 1e-5);
    }
}

// A delay d is a linear phase across subcarriers; LS pilots see exactly
// H(k) = exp(-j 2 pi k d / N). Linear interpolation between two unit phasors
// Delta = 2 pi d G / N apart (G = pilot gap) shrinks the channel by at worst
// cos(Delta / 2) (at the midpoint), so the equalized error is at most
// 1 / cos(pi d G_max / N) - 1, G_max = the largest pilot gap of the map (24,
// across DC): 0.2010 for d = 0.5.
BOOST_AUTO_TEST_CASE(delay_gives_linear_phase)
{
    const auto map = test_map();
    std::vector<gr_complex> pilots;
    std::vector<std::complex<double>> grid(64, 0.0);
    std::vector<int> pilot_pos;
    for (int i = 0; i < 64; i++) {
        if (map[i] == 2) {
            pilots.push_back(gr_complex(1, 0));
            grid[i] = 1.0;
            pilot_pos.push_back(i - 32);
        } else if (map[i] == 1)
            grid[i] = 1.0;
    }
    ofdm_pilots k(64, 16, map, pilots);
    const double d = 0.5;
    const auto x = make_symbol(grid, 16, 1.0, d);
    std::vector<gr_complex> ls(k.num_pilots()), raw(k.num_data()), eq(k.num_data());
    k.process(x.data(), ls.data(), raw.data(), eq.data());
    for (size_t p = 0; p < ls.size(); p++) {
        const auto expect = std::polar(1.0, -2 * M_PI * pilot_pos[p] * d / 64);
        BOOST_CHECK_SMALL(std::abs(std::complex<double>(ls[p]) - expect), 1e-5);
    }
    int gap = 0;
    for (size_t p = 1; p < pilot_pos.size(); p++)
        gap = std::max(gap, pilot_pos[p] - pilot_pos[p - 1]);
    BOOST_REQUIRE_EQUAL(gap, 24);
    const double bound = 1.0 / std::cos(M_PI * d * gap / 64) - 1.0 + 1e-5;
    double worst = 0;
    for (auto v : eq)
        worst = std::max(worst, std::abs(std::complex<double>(v) - 1.0));
    BOOST_CHECK_LE(worst, bound);
    BOOST_CHECK_GT(worst, 0.9 * bound); // the bound is attained near the gap's midpoint
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    auto map = test_map();
    BOOST_CHECK_THROW(ofdm_pilots(64, 16, std::vector<int>(63, 1), {}), std::invalid_argument);
    BOOST_CHECK_THROW(ofdm_pilots(64, 80, map, {}), std::invalid_argument);
    BOOST_CHECK_THROW(ofdm_pilots(64, 16, map, { gr_complex(1, 0) }), std::invalid_argument);
    map[3] = 7;
    BOOST_CHECK_THROW(ofdm_pilots(64, 16, map, {}), std::invalid_argument);
    BOOST_CHECK_THROW(ofdm_pilots(64, 16, std::vector<int>(64, 1), {}), std::invalid_argument);
}
