/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "screened_metric.h"
#include "detection_metric.h"
#include "vector_ops.h" // COHERE_CLONES
#include <algorithm>
#include <cfloat>
#include <cstring>
#include <stdexcept>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
// |x|^2 in float, non-finite samples as 0 (as block_energy), summed in double
double clipped_sum(const gr_complex* x, size_t n)
{
    double s = 0.0;
    for (size_t k = 0; k < n; k++) {
        const float p = x[k].real() * x[k].real() + x[k].imag() * x[k].imag();
        s += float_bits(p) <= float_bits(FLT_MAX) ? p : 0.0f;
    }
    return s;
}

typedef float v8f __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));
typedef uint32_t v4u __attribute__((vector_size(16)));

// largest bit pattern of |c|^2 over n windows (n a multiple of 4)
inline __attribute__((always_inline)) uint32_t max_power_bits4(const float* cp, size_t n)
{
    v4u m = { 0, 0, 0, 0 };
    for (size_t i = 0; i < n; i += 4) {
        v8f a;
        std::memcpy(&a, cp + 2 * i, sizeof(a));
        const v8f sq = a * a;
        const v4f p = __builtin_shufflevector(sq, sq, 0, 2, 4, 6) +
                      __builtin_shufflevector(sq, sq, 1, 3, 5, 7);
        v4u pb;
        std::memcpy(&pb, &p, sizeof(pb));
        m = pb > m ? pb : m;
    }
    const uint32_t a = m[0] > m[1] ? m[0] : m[1], b = m[2] > m[3] ? m[2] : m[3];
    return a > b ? a : b;
}

inline __attribute__((always_inline)) uint32_t power_bits(const float* cp, size_t i)
{
    return float_bits(cp[2 * i] * cp[2 * i] + cp[2 * i + 1] * cp[2 * i + 1]);
}

// Windows whose |c|^2 reaches the level of their run (first run first_len
// windows, then runs of b, a multiple of 4), on the bit patterns of the
// non-negative floats (a NaN compares as largest). Stores at most max_idx
// indices; returns the number found, or max_idx + 1 once more were found.
COHERE_CLONES
size_t screen_runs(const gr_complex* __restrict c,
                   size_t cnt,
                   size_t first_len,
                   size_t b,
                   const uint32_t* __restrict tbits,
                   uint32_t* __restrict idx,
                   size_t max_idx)
{
    const float* cp = reinterpret_cast<const float*>(c);
    size_t n = 0;
    size_t j = 0;
    for (size_t r = 0; j < cnt; r++) {
        const size_t end = std::min(cnt, j + (r == 0 ? first_len : b));
        const uint32_t t = tbits[r];
        uint32_t m = 0;
        size_t i = j;
        if (end - j == b) {
            m = max_power_bits4(cp + 2 * j, b);
        } else {
            for (; i < end; i++) {
                const uint32_t pb = power_bits(cp, i);
                m = pb > m ? pb : m;
            }
        }
        if (m >= t) {
            for (i = j; i < end; i++) {
                if (power_bits(cp, i) >= t) {
                    if (n == max_idx)
                        return max_idx + 1;
                    idx[n++] = static_cast<uint32_t>(i);
                }
            }
        }
        j = end;
    }
    return n;
}
} // namespace

screened_metric::screened_metric(size_t len, size_t block, size_t max_outputs)
    : d_len(len), d_block(block), d_max(max_outputs)
{
    if (len == 0 || max_outputs == 0)
        throw std::invalid_argument("screened_metric: len and max_outputs must be >= 1");
    if (block < 4 || (block & (block - 1)) != 0)
        throw std::invalid_argument("screened_metric: block must be a power of two >= 4");
    while ((size_t(1) << d_shift) < block)
        d_shift++;
    const size_t nb = (block - 1 + max_outputs + len - 1 + block - 1) / block + 1;
    d_prefix.resize(nb + 1);
    d_tbits.resize((block - 1 + max_outputs - 1) / block + 2);
    d_lower.resize(d_tbits.size());
    d_cand.resize(max_outputs);
    d_candval.resize(max_outputs);
    d_pw.resize(max_outputs + len - 1);
    d_energy.resize(max_outputs);
    d_metric.resize(max_outputs);
}

size_t screened_metric::process(const gr_complex* x,
                                size_t phase,
                                const double* sums,
                                const gr_complex* c,
                                size_t cnt,
                                float norm2,
                                float threshold,
                                mode m)
{
    cnt = std::min(cnt, d_max);
    d_cnt = cnt;
    d_ncand = 0;
    d_dense = false;
    d_materialized = false;
    if (cnt == 0) {
        d_floor = 0.0f;
        return 0;
    }
    const size_t B = d_block, sh = d_shift; // B = 2^sh
    phase &= B - 1;
    const size_t R = cnt + d_len - 1; // samples of the step
    const size_t nb = (phase + R + B - 1) >> sh;

    // prefix sums of the block energies clipped to x[0 .. R - 1] (the first
    // and the last block may be partial)
    double* P = d_prefix.data();
    P[0] = 0.0;
    P[1] = phase == 0 && B <= R ? sums[0] : clipped_sum(x, std::min(B - phase, R));
    for (size_t k = 1; k + 1 < nb; k++)
        P[k + 1] = P[k] + sums[k];
    if (nb > 1) {
        const size_t lo = (nb - 1) * B - phase;
        P[nb] = P[nb - 1] + (lo + B == R ? sums[nb - 1] : clipped_sum(x + lo, R - lo));
    }
    // The rounding error of a difference of prefix sums is below
    // (2 nb + 2) 2^-53 P[nb] (each sum adds at most 2^-53 of P[nb]); that
    // of a block energy (float partial sums of B terms >= 0) is relative,
    // at most (B + 8) 2^-24.
    const double slack = static_cast<double>(2 * nb + 2) * std::ldexp(1.0, -52) * P[nb];
    const double rel = 1.0 - static_cast<double>(B + 10) * std::ldexp(1.0, -23);

    // per run of windows that start in the same block: L, a lower bound of
    // their E (the blocks inside all of them), and U, an upper bound (the
    // blocks any of them touches), for the floor
    const size_t nr = ((phase + cnt - 1) >> sh) + 1;
    double umax = 0.0;
    for (size_t r = 0; r < nr; r++) {
        const size_t jmin = r * B > phase ? r * B - phase : 0;
        const size_t jmax = std::min((r + 1) * B - phase, cnt) - 1;
        const size_t hi = (jmax + d_len - 1 + phase) >> sh;
        umax = std::max(umax, P[hi + 1] - P[r]);
        const size_t first = (jmax + phase + B - 1) >> sh;
        const size_t last = (jmin + d_len + phase) >> sh; // exclusive
        d_lower[r] =
            last > first ? std::max(0.0, (P[last] - P[first]) - slack) * rel : 0.0;
    }
    d_floor = 1e-8f * static_cast<float>(umax);

    const bool all = m == mode::exhaustive || !(threshold > 0.0f);
    size_t n;
    if (all) {
        n = cnt;
        for (size_t j = 0; j < cnt; j++)
            d_cand[j] = static_cast<uint32_t>(j);
    } else {
        // level = threshold norm2 max(L, floor, FLT_MIN) (1 - 1e-4): the
        // factor exceeds the relative rounding of the exact metric (a few
        // float roundings of |c|^2, E, the quotient and 1 / norm2)
        const double scale = static_cast<double>(threshold) * norm2 * (1.0 - 1e-4);
        const double fl = std::max(d_floor, FLT_MIN);
        for (size_t r = 0; r < nr; r++)
            d_tbits[r] = float_bits(static_cast<float>(scale * std::max(d_lower[r], fl)));
        // the fallback pays for itself from about 32 cnt / N windows on
        const size_t limit = std::min(cnt, d_limit ? d_limit : 32 * cnt / d_len + 8);
        n = screen_runs(c, cnt, B - phase, B, d_tbits.data(), d_cand.data(), limit);
        if (n > limit) {
            // every window: running energy, then the metric
            d_dense = true;
            d_ncand = cnt;
            const float* xp = reinterpret_cast<const float*>(x);
            for (size_t k = 0; k < R; k++) {
                const float p = xp[2 * k] * xp[2 * k] + xp[2 * k + 1] * xp[2 * k + 1];
                d_pw[k] = float_bits(p) <= float_bits(FLT_MAX) ? p : 0.0f;
            }
            sliding_energy(d_pw.data(), d_len, cnt, d_energy.data());
            d_materialized = true;
            return normalized_metric(
                c, d_energy.data(), norm2, d_floor, threshold, d_metric.data(), cnt);
        }
    }
    d_ncand = n;
    size_t above = 0;
    for (size_t i = 0; i < n; i++) {
        const size_t j = d_cand[i];
        const float e = window_energy(x + j, d_len);
        above +=
            normalized_metric(c + j, &e, norm2, d_floor, threshold, &d_candval[i], 1);
    }
    return above;
}

const float* screened_metric::metric()
{
    if (!d_materialized) {
        std::fill(d_metric.begin(), d_metric.begin() + static_cast<long>(d_cnt), 0.0f);
        for (size_t i = 0; i < d_ncand; i++)
            d_metric[d_cand[i]] = d_candval[i];
        d_materialized = true;
    }
    return d_metric.data();
}

} // namespace kernels
} // namespace cohere
} // namespace gr
