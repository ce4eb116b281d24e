/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "detection_metric.h"

#pragma GCC diagnostic ignored "-Wpsabi"

#include "vector_ops.h" // COHERE_CLONES
#include <volk/volk.h>
#include <algorithm>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <complex>
#include <cstring>

namespace gr {
namespace cohere {
namespace kernels {

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

// Power of four samples at once: one vector of eight floats in, four
// |x|^2 out (re^2 + im^2 in float, as in the scalar code), non-finite ones
// (NaN, inf, overflow) as 0 and counted in bad (one lane per sample).
namespace {
typedef float v8f __attribute__((vector_size(32)));
typedef uint32_t v4u __attribute__((vector_size(16)));
typedef int32_t v4i __attribute__((vector_size(16)));

inline __attribute__((always_inline)) v4f power4(const v8f a, v4i& bad)
{
    const v8f sq = a * a;
    const v4f p = __builtin_shufflevector(sq, sq, 0, 2, 4, 6) +
                  __builtin_shufflevector(sq, sq, 1, 3, 5, 7);
    v4u pb;
    std::memcpy(&pb, &p, sizeof(pb));
    const v4u lim = { float_bits(FLT_MAX), float_bits(FLT_MAX), float_bits(FLT_MAX), float_bits(FLT_MAX) };
    const v4i ok = pb <= lim; // -1 or 0
    bad += ok + 1;
    pb &= reinterpret_cast<const v4u&>(ok);
    v4f r;
    std::memcpy(&r, &pb, sizeof(r));
    return r;
}

inline __attribute__((always_inline)) float power1(const float* ip, size_t& bad)
{
    const float p = ip[0] * ip[0] + ip[1] * ip[1];
    const bool ok = float_bits(p) <= float_bits(FLT_MAX);
    bad += ok ? 0 : 1;
    return ok ? p : 0.0f;
}

inline __attribute__((always_inline)) double hsum(v4d a)
{
    return (a[0] + a[1]) + (a[2] + a[3]);
}

// sum of the sanitized |x|^2 of count samples in double (two chains of four
// lanes, then four lanes, then one at a time; the same order for the same
// count)
inline __attribute__((always_inline)) double
power_sum(const float* __restrict ip, size_t count, size_t& bad)
{
    v4d acc = { 0, 0, 0, 0 }, acc2 = { 0, 0, 0, 0 };
    v4i badv = { 0, 0, 0, 0 };
    size_t k = 0;
    for (; k + 8 <= count; k += 8) { // two chains (the adds are latency bound)
        v8f a, b;
        std::memcpy(&a, ip + 2 * k, sizeof(a));
        std::memcpy(&b, ip + 2 * k + 8, sizeof(b));
        acc += __builtin_convertvector(power4(a, badv), v4d);
        acc2 += __builtin_convertvector(power4(b, badv), v4d);
    }
    acc += acc2;
    for (; k + 4 <= count; k += 4) {
        v8f a;
        std::memcpy(&a, ip + 2 * k, sizeof(a));
        acc += __builtin_convertvector(power4(a, badv), v4d);
    }
    double s = hsum(acc);
    for (; k < count; k++)
        s += power1(ip + 2 * k, bad);
    bad += static_cast<size_t>(badv[0] + badv[1] + badv[2] + badv[3]);
    return s;
}
} // namespace

COHERE_CLONES
size_t sanitize_copy(const gr_complex* __restrict in,
                     gr_complex* __restrict out,
                     size_t n)
{
    const float* ip = reinterpret_cast<const float*>(in);
    float* op = reinterpret_cast<float*>(out);
    size_t bad = 0;
    for (size_t k = 0; k < n; k++) {
        const float re = ip[2 * k], im = ip[2 * k + 1];
        const bool ok = float_bits(re * re + im * im) <= float_bits(FLT_MAX);
        op[2 * k] = ok ? re : 0.0f;
        op[2 * k + 1] = ok ? im : 0.0f;
        bad += ok ? 0 : 1;
    }
    return bad;
}

namespace {
// |x|^2 of eight samples (two vectors of four), in the order of the in-lane
// shuffles of AVX (the order does not matter for a sum)
inline __attribute__((always_inline)) v8f power8(const v8f a, const v8f b)
{
    const v8f sa = a * a, sb = b * b;
    return __builtin_shufflevector(sa, sb, 0, 2, 8, 10, 4, 6, 12, 14) +
           __builtin_shufflevector(sa, sb, 1, 3, 9, 11, 5, 7, 13, 15);
}

// Sum of |x|^2 of count samples: eight float lanes over groups of eight,
// reduced in float, then the rest one at a time (the same order for the same
// count; relative error below (count / 8 + 4) 2^-24). Not finite if a sample
// is not or if the float sum overflows.
template <bool copy>
inline __attribute__((always_inline)) double
fast_sum(const float* __restrict ip, float* __restrict op, size_t count)
{
    v8f acc = { 0, 0, 0, 0, 0, 0, 0, 0 };
    size_t k = 0;
    for (; k + 8 <= count; k += 8) {
        v8f a, b;
        std::memcpy(&a, ip + 2 * k, sizeof(a));
        std::memcpy(&b, ip + 2 * k + 8, sizeof(b));
        if (copy) {
            std::memcpy(op + 2 * k, &a, sizeof(a));
            std::memcpy(op + 2 * k + 8, &b, sizeof(b));
        }
        acc += power8(a, b);
    }
    const v4f h = __builtin_shufflevector(acc, acc, 0, 1, 2, 3) +
                  __builtin_shufflevector(acc, acc, 4, 5, 6, 7);
    double s = static_cast<double>((h[0] + h[2]) + (h[1] + h[3]));
    for (; k < count; k++) {
        if (copy) {
            op[2 * k] = ip[2 * k];
            op[2 * k + 1] = ip[2 * k + 1];
        }
        s += ip[2 * k] * ip[2 * k] + ip[2 * k + 1] * ip[2 * k + 1];
    }
    return s;
}
} // namespace

COHERE_CLONES
size_t block_energy(const gr_complex* __restrict in,
                    gr_complex* __restrict out,
                    size_t n,
                    size_t block,
                    double* __restrict sums,
                    uint32_t* __restrict bad)
{
    const float* ip = reinterpret_cast<const float*>(in);
    float* op = reinterpret_cast<float*>(out);
    size_t total = 0;
    for (size_t k = 0; k * block < n; k++) {
        const size_t first = k * block;
        const size_t count = std::min(block, n - first);
        double s = op ? fast_sum<true>(ip + 2 * first, op + 2 * first, count)
                      : fast_sum<false>(ip + 2 * first, nullptr, count);
        size_t nb = 0;
        if (!(s <= DBL_MAX)) // a non-finite sample, or a float overflow: in double
            s = power_sum(ip + 2 * first, count, nb);
        sums[k] = s;
        if (bad)
            bad[k] = static_cast<uint32_t>(nb);
        total += nb;
    }
    return total;
}

COHERE_CLONES
float window_energy(const gr_complex* x, size_t len)
{
    size_t bad = 0;
    return static_cast<float>(
        power_sum(reinterpret_cast<const float*>(x), len, bad));
}

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
    const uint32_t fl = float_bits(floor > FLT_MIN ? floor : FLT_MIN); // never divide by 0
    const uint32_t one = float_bits(1.0f), th = float_bits(threshold > 0.0f ? threshold : 0.0f);
    int32_t above = 0;
    for (size_t j = 0; j < n; j++) {
        const float re = cp[2 * j], im = cp[2 * j + 1];
        const uint32_t eb = float_bits(energy[j]);
        // negative rounding residues (sign bit set) also take the floor
        const float e = bits_float(eb > fl && eb < 0x80000000u ? eb : fl);
        const uint32_t mb = float_bits((re * re + im * im) / e * inv_norm2);
        const uint32_t vb = mb < one ? mb : one; // rounding may exceed 1
        metric[j] = bits_float(vb);
        above += vb > th ? 1 : 0;
    }
    return static_cast<size_t>(above);
}

cross_leak cross_metric(const std::vector<gr_complex>& a,
                        const std::vector<gr_complex>& b,
                        double z)
{
    cross_leak out;
    const long na = static_cast<long>(a.size()), nb = static_cast<long>(b.size());
    if (na == 0 || nb == 0)
        return out;
    std::vector<double> cum(a.size() + 1, 0.0); // cum[k] = sum_{m<k} |a[m]|^2
    for (size_t k = 0; k < a.size(); k++)
        cum[k + 1] = cum[k] + std::norm(std::complex<double>(a[k]));
    double nb2 = 0.0;
    for (const auto& v : b)
        nb2 += std::norm(std::complex<double>(v));
    const double pa = cum.back() / static_cast<double>(na);
    if (!(nb2 > 0.0) || !(pa > 0.0))
        return out;
    const double low = std::max(0.0, 1.0 - z / std::sqrt(static_cast<double>(nb)));
    double s2_grid[61];
    for (int db = 0; db <= 60; db++)
        s2_grid[db] = pa * std::pow(10.0, -db / 10.0);
    for (long s = 1 - nb; s < na; s++) {
        const long a0 = std::max(s, 0L), a1 = std::min(s + nb, na); // a's part in the window
        gr_complex cf;
        volk_32fc_x2_conjugate_dot_prod_32fc(
            &cf, a.data() + a0, b.data() + (a0 - s), static_cast<unsigned int>(a1 - a0));
        const double c2 = std::norm(std::complex<double>(cf)), c = std::sqrt(c2);
        const double e = cum[static_cast<size_t>(a1)] - cum[static_cast<size_t>(a0)];
        if (e > 0.0 && c2 / (e * nb2) > out.metric) {
            out.metric = c2 / (e * nb2);
            out.lag = s;
        }
        for (int db = 0; db <= 60; db++) {
            const double s2 = s2_grid[db];
            const double sw2 = s2 * nb2;
            const double m = (c2 + std::sqrt(2.0) * z * c * std::sqrt(sw2) + sw2) /
                             ((e + static_cast<double>(nb) * s2 * low) * nb2);
            if (m > out.bound) {
                out.bound = m;
                out.bound_lag = s;
                out.bound_snr_db = db;
            }
        }
    }
    out.metric = std::min(out.metric, 1.0);
    out.bound = std::min(out.bound, 1.0);
    return out;
}

} // namespace kernels
} // namespace cohere
} // namespace gr
