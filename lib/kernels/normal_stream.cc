/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "normal_stream.h"
#include "fast_math.h"
#include "oscillator.h"
#include "vector_ops.h"
#include <cmath>
#include <cstring>

namespace gr {
namespace cohere {
namespace kernels {

normal_stream::normal_stream(uint64_t seed) : d_pos(2 * pairs)
{
    for (size_t l = 0; l < lanes; l++) {
        uint64_t x = derive_seed(seed, 0x4e4f524dULL, l); // "NORM"
        for (size_t w = 0; w < 4; w++) {
            x += 0x9e3779b97f4a7c15ULL;
            d_s[w][l] = mix64(x);
        }
    }
}

namespace {
// Four 64-bit lanes; GCC lowers these operations to whatever the target has
// (one AVX2 register, two SSE2 registers or scalar code).
typedef uint64_t u64x4 __attribute__((vector_size(32)));
typedef uint32_t u32x8 __attribute__((vector_size(32)));
typedef int32_t i32x8 __attribute__((vector_size(32)));
typedef float f32x8 __attribute__((vector_size(32)));

// One xoshiro256** step in every lane, multiplications as shifts and adds.
inline __attribute__((always_inline)) void
xoshiro_step(u64x4& s0, u64x4& s1, u64x4& s2, u64x4& s3, u64x4& out)
{
    const u64x4 x5 = (s1 << 2) + s1;
    const u64x4 r = (x5 << 7) | (x5 >> 57);
    const u64x4 u = (r << 3) + r;
    const u64x4 t = s1 << 17;
    s2 ^= s0;
    s3 ^= s1;
    s1 ^= s2;
    s0 ^= s3;
    s2 ^= t;
    s3 = (s3 << 45) | (s3 >> 19);
    out = u;
}
} // namespace

COHERE_CLONES
void normal_stream::refill()
{
    static_assert(lanes == 4 && pairs % 8 == 0, "refill() is written for four lanes");
    u64x4 s0, s1, s2, s3;
    std::memcpy(&s0, d_s[0], sizeof(s0));
    std::memcpy(&s1, d_s[1], sizeof(s1));
    std::memcpy(&s2, d_s[2], sizeof(s2));
    std::memcpy(&s3, d_s[3], sizeof(s3));
    const float scale = 0x1.0p-24f;
    const f32x8 radius_scale = { scale, scale, scale, scale, scale, scale, scale, scale };
    const f32x8 half = { 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f, 0.5f };
    const u32x8 top24 = { 0xffffff00u, 0xffffff00u, 0xffffff00u, 0xffffff00u,
                          0xffffff00u, 0xffffff00u, 0xffffff00u, 0xffffff00u };
    for (size_t i = 0; i < pairs; i += 8) {
        // Two steps give eight 32-bit halves each: the top 24 bits of one
        // step's halves are eight radius uniforms in (0, 1), those of the
        // other eight angles (fixed-point phases, 2^32 a full turn).
        u32x8 a, b;
        u64x4 ua, ub;
        xoshiro_step(s0, s1, s2, s3, ua);
        xoshiro_step(s0, s1, s2, s3, ub);
        std::memcpy(&a, &ua, sizeof(a));
        std::memcpy(&b, &ub, sizeof(b));
        const i32x8 r24 = (i32x8)(a >> 8); // bit cast: values below 2^24
        const f32x8 radius = (__builtin_convertvector(r24, f32x8) + half) * radius_scale;
        const u32x8 angle = b & top24;
        std::memcpy(&d_radius[i], &radius, sizeof(radius));
        std::memcpy(&d_angle[i], &angle, sizeof(angle));
    }
    std::memcpy(d_s[0], &s0, sizeof(s0));
    std::memcpy(d_s[1], &s1, sizeof(s1));
    std::memcpy(d_s[2], &s2, sizeof(s2));
    std::memcpy(d_s[3], &s3, sizeof(s3));
    // radius sqrt(-2 ln u1) and angle in one pass (the L1 round trips of
    // separate passes cost as much as the arithmetic)
    for (size_t i = 0; i < pairs; i++) {
        const float radius = std::sqrt(-2.0f * log_one(d_radius[i]));
        float c, s;
        phasor_one(d_angle[i], c, s);
        d_buf[2 * i] = radius * c;
        d_buf[2 * i + 1] = radius * s;
    }
    d_pos = 0;
}

void normal_stream::fill(float* out, size_t n)
{
    while (n > 0) {
        if (d_pos == d_buf.size())
            refill();
        const size_t run = std::min(n, d_buf.size() - d_pos);
        std::memcpy(out, d_buf.data() + d_pos, run * sizeof(float));
        d_pos += run;
        out += run;
        n -= run;
    }
}

size_t normal_stream::take(size_t max, const float*& z)
{
    if (d_pos == d_buf.size())
        refill();
    const size_t run = std::min(max, d_buf.size() - d_pos);
    z = d_buf.data() + d_pos;
    d_pos += run;
    return run;
}

} // namespace kernels
} // namespace cohere
} // namespace gr
