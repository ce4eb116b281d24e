/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "detection_metric.h"

#pragma GCC diagnostic ignored "-Wpsabi"

#include "vector_ops.h" // COHERE_CLONES
#include <algorithm>
#include <cfloat>
#include <cstdint>
#include <cstring>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
inline __attribute__((always_inline)) uint32_t bits(float x)
{
    uint32_t b;
    std::memcpy(&b, &x, sizeof(b));
    return b;
}

inline __attribute__((always_inline)) float value(uint32_t b)
{
    float x;
    std::memcpy(&x, &b, sizeof(x));
    return x;
}

template <bool copy_raw>
inline __attribute__((always_inline)) size_t sanitize_impl(const gr_complex* __restrict in,
                                                           gr_complex* __restrict x,
                                                           float* __restrict pw,
                                                           gr_complex* __restrict raw,
                                                           size_t n)
{
    const float* ip = reinterpret_cast<const float*>(in);
    float* xp = reinterpret_cast<float*>(x);
    float* rp = reinterpret_cast<float*>(raw);
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        const float re = ip[2 * k], im = ip[2 * k + 1];
        if (copy_raw) {
            rp[2 * k] = re;
            rp[2 * k + 1] = im;
        }
        const float p = re * re + im * im;
        // false for +-NaN and +inf (unsigned order of the bits of p >= 0)
        const bool ok = bits(p) <= bits(FLT_MAX);
        xp[2 * k] = ok ? re : 0.0f;
        xp[2 * k + 1] = ok ? im : 0.0f;
        pw[k] = ok ? p : 0.0f;
        bad += ok ? 0 : 1;
    }
    return bad;
}
} // namespace

COHERE_CLONES
size_t sanitize_power(const gr_complex* in, gr_complex* x, float* pw, size_t n, gr_complex* raw)
{
    return raw ? sanitize_impl<true>(in, x, pw, raw, n) : sanitize_impl<false>(in, x, pw, raw, n);
}

// GCC vector extensions: one AVX register in the AVX2 clone, two SSE2
// registers in the baseline one (the helpers are always inlined, so the
// -Wpsabi note about passing 256-bit vectors does not apply).
namespace {
typedef double v4d __attribute__((vector_size(32)));
typedef float v4f __attribute__((vector_size(16)));

inline __attribute__((always_inline)) v4d load4(const float* p)
{
    v4f f;
    std::memcpy(&f, p, sizeof(f));
    return __builtin_convertvector(f, v4d);
}

// sum of pw[0 .. len-1] in double (eight partial sums)
inline __attribute__((always_inline)) double exact_sum(const float* pw, size_t len)
{
    v4d a = { 0, 0, 0, 0 }, b = { 0, 0, 0, 0 };
    size_t k = 0;
    for (; k + 8 <= len; k += 8) {
        a += load4(pw + k);
        b += load4(pw + k + 4);
    }
    a += b;
    double s = (a[0] + a[1]) + (a[2] + a[3]);
    for (; k < len; k++)
        s += pw[k];
    return s;
}
} // namespace

COHERE_CLONES
float sliding_energy(const float* __restrict pw,
                     size_t len,
                     size_t nout,
                     float* __restrict energy,
                     size_t restart)
{
    restart = std::max<size_t>(restart, 8);
    float emax = 0.0f;
    size_t j = 0;
    while (j < nout) {
        const size_t end = std::min(nout, j + restart);
        // exact sum for E[j], then E[j + 1 .. j + 3] one step at a time
        double e[4] = { 0.0, 0.0, 0.0, 0.0 };
        e[0] = exact_sum(pw + j, len);
        energy[j] = static_cast<float>(e[0]);
        size_t i = j + 1;
        for (; i < end && i < j + 4; i++) {
            e[i - j] = e[i - j - 1] + (static_cast<double>(pw[i + len - 1]) - pw[i - 1]);
            energy[i] = static_cast<float>(e[i - j]);
        }
        // four interleaved chains, one vector:
        // E[m + 4] = E[m] + sum_{q<4} pw[m + len + q] - sum_{q<4} pw[m + q]
        v4d ev = { e[0], e[1], e[2], e[3] };
        if (i == j + 4) {
            for (; i + 4 <= end; i += 4) {
                const float* a = pw + (i - 4) + len;
                const float* b = pw + (i - 4);
                const v4d add = (load4(a) + load4(a + 1)) + (load4(a + 2) + load4(a + 3));
                const v4d sub = (load4(b) + load4(b + 1)) + (load4(b + 2) + load4(b + 3));
                ev += add - sub;
                const v4f ef = __builtin_convertvector(ev, v4f);
                std::memcpy(energy + i, &ef, sizeof(ef));
            }
        }
        for (size_t r = 0; r < 4; r++)
            e[r] = ev[r];
        // tail: single steps from the last value
        for (; i < end; i++) {
            const size_t r = (i - j) & 3;
            e[r] = e[(r + 3) & 3] + (static_cast<double>(pw[i + len - 1]) - pw[i - 1]);
            energy[i] = static_cast<float>(e[r]);
        }
        j = end;
    }
    // largest value through the integer order of non-negative floats
    // (an integer max reduction vectorizes; a float one does not without
    // -ffast-math); negative rounding residues are ignored
    int32_t imax = 0;
    for (size_t k = 0; k < nout; k++) {
        int32_t b;
        std::memcpy(&b, energy + k, sizeof(b));
        imax = b > imax ? b : imax;
    }
    std::memcpy(&emax, &imax, sizeof(emax));
    return emax;
}

COHERE_CLONES
size_t normalized_metric(const gr_complex* __restrict c,
                         const float* __restrict energy,
                         float norm2,
                         float floor,
                         float threshold,
                         float* __restrict metric,
                         size_t n)
{
    // Comparisons on the bit patterns of non-negative floats (same order as
    // the values, and unsigned so that any NaN compares as largest): float
    // compares would keep the loop from vectorizing under -ftrapping-math.
    const float* cp = reinterpret_cast<const float*>(c);
    const float inv_norm2 = 1.0f / norm2;
    const uint32_t fl = bits(floor > FLT_MIN ? floor : FLT_MIN); // never divide by 0
    const uint32_t one = bits(1.0f), th = bits(threshold > 0.0f ? threshold : 0.0f);
    int32_t above = 0;
    for (size_t j = 0; j < n; j++) {
        const float re = cp[2 * j], im = cp[2 * j + 1];
        const uint32_t eb = bits(energy[j]);
        // negative rounding residues (sign bit set) also take the floor
        const float e = value(eb > fl && eb < 0x80000000u ? eb : fl);
        const uint32_t mb = bits((re * re + im * im) / e * inv_norm2);
        const uint32_t vb = mb < one ? mb : one; // rounding may exceed 1
        metric[j] = value(vb);
        above += vb > th ? 1 : 0;
    }
    return static_cast<size_t>(above);
}

} // namespace kernels
} // namespace cohere
} // namespace gr
