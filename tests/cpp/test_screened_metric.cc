/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */
#define BOOST_TEST_MODULE test_screened_metric
#include "kernels/correlator.h"
#include "kernels/detection_metric.h"
#include "kernels/peak_picker.h"
#include "kernels/preamble_fit.h"
#include "kernels/screened_metric.h"
#include "test_signals.h"
#include <boost/test/unit_test.hpp>
#include <cmath>
#include <complex>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

using namespace gr::cohere::kernels;

namespace {
using gr::cohere::test::gaussian;

bool same_bits(float a, float b) { return std::memcmp(&a, &b, sizeof(a)) == 0; }

// One step of windows x[phase + j], j < cnt, through screened_metric in both
// modes (block energies from block_energy() of x from its start, the
// correlation from an FFT of the zeroed copy, as the detector does).
struct step_result {
    size_t above = 0;
    std::vector<float> metric;
    size_t candidates = 0;
    bool dense = false;
};

struct step_case {
    std::vector<gr_complex> x; // block 0 starts at x[0]
    std::vector<gr_complex> p;
    size_t block = 32, phase = 0, cnt = 0;
    std::vector<double> sums;
    std::vector<uint32_t> bad;
    std::vector<gr_complex> c;
    float norm2 = 0;

    void prepare()
    {
        sums.assign(x.size() / block + 2, 0.0);
        bad.assign(sums.size(), 0);
        block_energy(x.data(), nullptr, x.size(), block, sums.data(), bad.data());
        std::vector<gr_complex> clean(x.size());
        sanitize_copy(x.data(), clean.data(), x.size());
        c.resize(cnt);
        fft_correlator corr(p);
        corr.correlate(clean.data() + phase, c.data(), cnt);
        double e = 0;
        for (auto v : p)
            e += std::norm(v);
        norm2 = static_cast<float>(e);
    }

    step_result run(float threshold, screened_metric::mode m, bool fallback = false) const
    {
        screened_metric sm(p.size(), block, cnt);
        if (!fallback) // the screen alone, however many windows pass it
            sm.set_dense_limit(SIZE_MAX);
        step_result r;
        r.above = sm.process(x.data() + phase, phase, sums.data(), c.data(), cnt, norm2, threshold, m);
        r.metric.assign(sm.metric(), sm.metric() + cnt);
        r.candidates = sm.candidates();
        r.dense = sm.dense();
        return r;
    }
};

std::vector<peak> peaks(const std::vector<float>& m, size_t len, float threshold)
{
    peak_picker pk(len, len, threshold);
    std::vector<peak> out;
    pk.process(m.data(), m.size(), 0, out);
    peak last;
    if (pk.flush(last))
        out.push_back(last);
    return out;
}

// The screened metric equals the exhaustive one bit for bit wherever either
// exceeds the threshold, the counts agree, and so do the peaks.
void check_exact(const step_case& sc, float threshold, const char* what)
{
    const auto ex = sc.run(threshold, screened_metric::mode::exhaustive);
    const auto sc_ = sc.run(threshold, screened_metric::mode::screened);
    BOOST_TEST_INFO(what << ": N=" << sc.p.size() << " B=" << sc.block << " phase=" << sc.phase
                         << " cnt=" << sc.cnt << " threshold=" << threshold);
    BOOST_REQUIRE(!sc_.dense);
    BOOST_CHECK_EQUAL(sc_.above, ex.above);
    for (size_t j = 0; j < sc.cnt; j++) {
        if (ex.metric[j] > threshold || sc_.metric[j] > threshold) {
            BOOST_TEST_INFO("window " << j);
            BOOST_REQUIRE(same_bits(ex.metric[j], sc_.metric[j]));
        }
    }
    const auto pe = peaks(ex.metric, sc.p.size(), threshold);
    const auto ps = peaks(sc_.metric, sc.p.size(), threshold);
    BOOST_REQUIRE_EQUAL(pe.size(), ps.size());
    for (size_t i = 0; i < pe.size(); i++) {
        BOOST_CHECK_EQUAL(pe[i].index, ps[i].index);
        BOOST_CHECK(same_bits(pe[i].metric, ps[i].metric));
    }
}

// power varying by up to 120 dB from segment to segment, silent segments
// and single strong samples
std::vector<gr_complex> varying(size_t n, unsigned seed)
{
    std::mt19937 gen(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    auto x = gaussian(n, seed + 1);
    size_t k = 0;
    while (k < n) {
        const size_t seg = 1 + static_cast<size_t>(u(gen) * 200.0f);
        const float r = u(gen);
        const float g = r < 0.15f ? 0.0f : std::pow(10.0f, 6.0f * (2.0f * u(gen) - 1.0f) / 2.0f);
        for (size_t i = k; i < std::min(n, k + seg); i++)
            x[i] *= g;
        k += seg;
    }
    for (int s = 0; s < 6; s++)
        x[static_cast<size_t>(u(gen) * (n - 1))] *= 1e4f;
    return x;
}
} // namespace

// Block energies: the double-precision sums to float rounding, the count of
// non-finite samples (which count as 0), a bit-identical copy, and the same
// bits for a block completed in a later call (summed again from its start).
BOOST_AUTO_TEST_CASE(block_energy_definition)
{
    const float nan = std::numeric_limits<float>::quiet_NaN();
    auto x = gaussian(1000, 3);
    x[70] = gr_complex(nan, 0);
    x[71] = gr_complex(0, std::numeric_limits<float>::infinity());
    x[300] = gr_complex(3e19f, 0); // |x|^2 overflows
    for (size_t block : { 4u, 16u, 32u }) {
        std::vector<double> s(x.size() / block + 1);
        std::vector<uint32_t> bad(s.size());
        std::vector<gr_complex> copy(x.size());
        BOOST_CHECK_EQUAL(block_energy(x.data(), copy.data(), x.size(), block, s.data(), bad.data()), 3u);
        BOOST_CHECK(std::memcmp(copy.data(), x.data(), x.size() * sizeof(gr_complex)) == 0);
        for (size_t k = 0; k * block < x.size(); k++) {
            double ref = 0;
            size_t nbad = 0;
            for (size_t i = k * block; i < std::min(x.size(), (k + 1) * block); i++) {
                const float p = x[i].real() * x[i].real() + x[i].imag() * x[i].imag();
                if (std::isfinite(p))
                    ref += p;
                else
                    nbad++;
            }
            BOOST_REQUIRE_CLOSE(s[k], ref, 1e-5);
            BOOST_REQUIRE_EQUAL(bad[k], nbad);
        }
        // a block begun with 5 samples and completed later
        double part, whole;
        uint32_t b;
        block_energy(x.data(), nullptr, 5, block, &part, &b);
        block_energy(x.data(), nullptr, block, block, &whole, &b);
        BOOST_CHECK(whole == s[0]);
    }
    // window energy: the double sum of the zeroed samples, rounded to float
    double ref = 0;
    for (size_t i = 0; i < 500; i++) {
        const float p = x[i].real() * x[i].real() + x[i].imag() * x[i].imag();
        ref += std::isfinite(p) ? p : 0.0f;
    }
    BOOST_CHECK_CLOSE(window_energy(x.data(), 500), ref, 1e-5);
}

// The screen never drops a window the exact metric accepts: noise with
// preambles at several SNRs, for preamble lengths 16 .. 1024, block lengths,
// phases and step sizes, at the default thresholds and at lower ones.
BOOST_AUTO_TEST_CASE(screen_is_exact_noise_and_preambles)
{
    unsigned seed = 1;
    for (size_t len : { 16u, 64u, 100u, 1024u }) {
        for (size_t block : { 4u, 16u, 32u }) {
            if (4 * block > len)
                continue;
            for (size_t phase : { size_t(0), size_t(1), block - 1 }) {
                step_case sc;
                sc.p = gaussian(len, seed++);
                sc.block = block;
                sc.phase = phase;
                sc.cnt = 3 * len + 501;
                sc.x = gaussian(phase + sc.cnt + len - 1, seed++);
                // preambles at 20, 0 and -10 dB SNR
                const float amps[] = { 10.0f, 1.0f, 0.316f };
                for (int q = 0; q < 3; q++) {
                    const size_t at = phase + 7 + static_cast<size_t>(q) * len;
                    for (size_t k = 0; k < len; k++)
                        sc.x[at + k] += amps[q] * sc.p[k];
                }
                sc.prepare();
                const float t = static_cast<float>(preamble_fit::default_threshold(len, 1e-6, 0.01));
                for (float th : { t, t / 4, 0.5f })
                    check_exact(sc, th, "noise");
            }
        }
    }
}

// Power that varies by up to 120 dB between segments, silences and single
// strong samples: the lower bound of the window energy is loose there and
// the floor matters; still exact.
BOOST_AUTO_TEST_CASE(screen_is_exact_varying_power)
{
    unsigned seed = 100;
    for (size_t len : { 64u, 256u, 1024u }) {
        for (int rep = 0; rep < 4; rep++) {
            step_case sc;
            sc.p = gaussian(len, seed++);
            sc.block = 32;
            sc.phase = static_cast<size_t>(rep) * 9 % 32;
            sc.cnt = 4 * len + 77;
            sc.x = varying(sc.phase + sc.cnt + len - 1, seed++);
            for (size_t k = 0; k < len; k++) // one preamble at the power around it
                sc.x[sc.phase + 2 * len + k] += 0.5f * std::abs(sc.x[sc.phase + 2 * len]) * sc.p[k];
            sc.prepare();
            const float t = static_cast<float>(preamble_fit::default_threshold(len, 1e-6, 0.01));
            for (float th : { t, 0.1f, 0.9f })
                check_exact(sc, th, "varying power");
        }
    }
}

// Thresholds placed exactly at exact metric values and one float step on
// either side: the decisions still match bit for bit.
BOOST_AUTO_TEST_CASE(screen_is_exact_at_the_threshold)
{
    unsigned seed = 200;
    for (size_t len : { 64u, 1024u }) {
        for (int rep = 0; rep < 3; rep++) {
            step_case sc;
            sc.p = gaussian(len, seed++);
            sc.phase = 5;
            sc.cnt = 2 * len + 300;
            sc.x = rep == 0 ? gaussian(sc.phase + sc.cnt + len - 1, seed++)
                            : varying(sc.phase + sc.cnt + len - 1, seed++);
            for (size_t k = 0; k < len; k++)
                sc.x[sc.phase + len / 2 + k] += 0.2f * sc.p[k];
            sc.prepare();
            const auto ex = sc.run(0.0f, screened_metric::mode::exhaustive);
            // the largest values and a few random ones above 1/N
            std::vector<float> levels;
            std::vector<float> sorted = ex.metric;
            std::sort(sorted.begin(), sorted.end());
            for (size_t i = 1; i <= 5; i++)
                levels.push_back(sorted[sorted.size() - i]);
            std::mt19937 gen(seed++);
            for (int i = 0; i < 5; i++) {
                const float v = ex.metric[gen() % sc.cnt];
                if (v > 1.0f / static_cast<float>(len))
                    levels.push_back(v);
            }
            for (float v : levels) {
                if (!(v > 0.0f && v < 1.0f))
                    continue;
                for (float th : { std::nextafter(v, 0.0f), v, std::nextafter(v, 1.0f) })
                    check_exact(sc, th, "at the threshold");
            }
        }
    }
}

// Non-finite samples count as zeros, in the screen as in the exact metric.
BOOST_AUTO_TEST_CASE(screen_with_nonfinite_samples)
{
    step_case sc;
    const size_t len = 256;
    sc.p = gaussian(len, 300);
    sc.phase = 3;
    sc.cnt = 2000;
    sc.x = gaussian(sc.phase + sc.cnt + len - 1, 301);
    for (size_t k = 0; k < len; k++)
        sc.x[sc.phase + 900 + k] += 2.0f * sc.p[k];
    sc.x[400] = gr_complex(std::numeric_limits<float>::quiet_NaN(), 1.0f);
    sc.x[401] = gr_complex(std::numeric_limits<float>::infinity(), 0.0f);
    for (size_t k = 1500; k < 1600; k++)
        sc.x[k] = gr_complex(std::numeric_limits<float>::quiet_NaN(), 0.0f);
    sc.prepare();
    const float t = static_cast<float>(preamble_fit::default_threshold(len, 1e-6, 0.01));
    check_exact(sc, t, "non-finite");
    BOOST_CHECK_EQUAL(sc.run(t, screened_metric::mode::screened).above > 0, true);
}

// Stationary noise: few windows pass the screen (the screen does its job).
BOOST_AUTO_TEST_CASE(screen_passes_few_noise_windows)
{
    const size_t len = 1024;
    step_case sc;
    sc.p = gaussian(len, 400);
    sc.cnt = 3073;
    sc.x = gaussian(sc.cnt + len - 1, 401);
    sc.prepare();
    const float t = static_cast<float>(preamble_fit::default_threshold(len, 1e-6, 0.01));
    const auto r = sc.run(t, screened_metric::mode::screened, true);
    BOOST_CHECK(!r.dense);
    BOOST_CHECK_EQUAL(r.above, 0u);
    BOOST_CHECK_LE(r.candidates, 3u);
}

// Many windows above the screen (a tone that a periodic preamble matches):
// the step falls back to the running energy of every window, which equals the
// exact metric to float rounding, with the same peaks.
BOOST_AUTO_TEST_CASE(dense_fallback)
{
    const size_t len = 256, period = 16;
    step_case sc;
    const double w = 2.0 * M_PI / period;
    auto base = gaussian(period, 500, 0.3f);
    for (size_t k = 0; k < len; k++)
        sc.p.push_back(base[k % period] + std::polar(1.0f, static_cast<float>(w * (k % period))));
    sc.cnt = 3000;
    const size_t n = sc.cnt + len - 1;
    for (size_t k = 0; k < n; k++)
        sc.x.push_back(gr_complex(std::cos(w * k), std::sin(w * k)));
    auto noise = gaussian(n, 501, 0.1f);
    for (size_t k = 0; k < n; k++)
        sc.x[k] += noise[k];
    sc.prepare();
    const float th = 0.02f;
    const auto ex = sc.run(th, screened_metric::mode::exhaustive);
    const auto r = sc.run(th, screened_metric::mode::screened, true);
    BOOST_REQUIRE(r.dense);
    BOOST_CHECK_GT(ex.above, sc.cnt / 2);
    BOOST_CHECK_EQUAL(r.above, ex.above);
    for (size_t j = 0; j < sc.cnt; j++)
        BOOST_REQUIRE_CLOSE(r.metric[j], ex.metric[j], 1e-4);
    const auto pe = peaks(ex.metric, len, th), pr = peaks(r.metric, len, th);
    BOOST_REQUIRE_EQUAL(pe.size(), pr.size());
}

BOOST_AUTO_TEST_CASE(invalid_arguments)
{
    BOOST_CHECK_THROW(screened_metric(0, 4, 10), std::invalid_argument);
    BOOST_CHECK_THROW(screened_metric(64, 0, 10), std::invalid_argument);
    BOOST_CHECK_THROW(screened_metric(64, 12, 10), std::invalid_argument);
    BOOST_CHECK_THROW(screened_metric(64, 2, 10), std::invalid_argument);
    BOOST_CHECK_THROW(screened_metric(64, 16, 0), std::invalid_argument);
}
