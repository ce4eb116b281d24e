/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_FAST_MATH_H
#define INCLUDED_COHERE_KERNELS_FAST_MATH_H

// Branch-free single-element float logarithm and unit phasor, written so
// that the loops calling them (normal_stream::refill, fixed_phasors)
// vectorize.

#include "vector_ops.h" // float_bits, bits_float
#include <cstdint>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * ln x for x in (0, 1e38]: x = m 2^e with m in [sqrt(1/2), sqrt(2));
 * ln m = 2 atanh(t), t = (m-1)/(m+1), |t| <= 0.172: four odd terms leave a
 * relative error below 3e-8.
 */
inline __attribute__((always_inline)) float log_one(float x)
{
    const int32_t bits = static_cast<int32_t>(float_bits(x));
    // shift the mantissa range from [1, 2) to [sqrt(1/2), sqrt(2))
    const int32_t adj = bits - 0x3f3504f3; // bits of sqrt(1/2)
    const int32_t e = adj >> 23;
    const float m = bits_float(static_cast<uint32_t>(bits - (e << 23)));
    const float t = (m - 1.0f) / (m + 1.0f);
    const float t2 = t * t;
    const float lnm = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7))));
    return static_cast<float>(e) * 0.693147180559945f + lnm;
}

/*!
 * exp(j 2 pi p / 2^32) for a fixed-point phase p (2^32 a full turn): the
 * nearest quadrant exactly from the top bits, the rest by polynomials on
 * [-pi/4, pi/4) (error < 3e-7).
 */
inline __attribute__((always_inline)) void phasor_one(uint32_t p, float& re, float& im)
{
    // nearest quadrant q (0..3) and the rest r, exactly, in integers;
    // y = 2 pi r / 2^32 in [-pi/4, pi/4)
    const uint32_t q = (p + 0x20000000u) >> 30;
    const int32_t r = static_cast<int32_t>(p - (q << 30));
    const float y = static_cast<float>(r) * 1.46291807926715968e-9f; // 2 pi / 2^32
    const float y2 = y * y;
    const float sn =
        y + y * y2 * (-1.6666654611e-1f + y2 * (8.3321608736e-3f + y2 * -1.9515295891e-4f));
    const float cs =
        1.0f - 0.5f * y2 +
        y2 * y2 *
            (4.166664568298827e-2f + y2 * (-1.388731625493765e-3f + y2 * 2.443315711809948e-5f));
    // exp(j (q pi/2 + y)): odd q swaps cosine and sine; the real part is
    // negative for q = 1, 2 and the imaginary part for q = 2, 3
    const bool odd = q & 1;
    const float c = odd ? sn : cs;
    const float s = odd ? cs : sn;
    re = bits_float(float_bits(c) ^ (((q + 1) & 2u) << 30));
    im = bits_float(float_bits(s) ^ ((q & 2u) << 30));
}

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_FAST_MATH_H */
