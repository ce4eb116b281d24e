/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "normal_stream.h"
#include "oscillator.h"
#include "vector_ops.h"
#include <cmath>
#include <cstring>

namespace gr {
namespace cohere {
namespace kernels {

COHERE_CLONES
void fast_log(const float* __restrict x, float* __restrict out, size_t n)
{
    // x = m 2^e with m in [sqrt(1/2), sqrt(2)); ln m = 2 atanh(t), t = (m-1)/(m+1),
    // |t| <= 0.172: four odd terms leave a relative error below 3e-8.
    for (size_t k = 0; k < n; k++) {
        int32_t bits;
        std::memcpy(&bits, &x[k], sizeof(bits));
        // shift the mantissa range from [1, 2) to [sqrt(1/2), sqrt(2))
        const int32_t adj = bits - 0x3f3504f3; // bits of sqrt(1/2)
        const int32_t e = adj >> 23;
        const int32_t mbits = bits - (e << 23);
        float m;
        std::memcpy(&m, &mbits, sizeof(m));
        const float t = (m - 1.0f) / (m + 1.0f);
        const float t2 = t * t;
        const float lnm = 2.0f * t * (1.0f + t2 * (1.0f / 3 + t2 * (1.0f / 5 + t2 * (1.0f / 7))));
        out[k] = static_cast<float>(e) * 0.693147180559945f + lnm;
    }
}

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

COHERE_CLONES
void normal_stream::refill()
{
    std::array<int32_t, pairs> hi, lo;
    uint64_t s0[lanes], s1[lanes], s2[lanes], s3[lanes];
    for (size_t l = 0; l < lanes; l++) {
        s0[l] = d_s[0][l];
        s1[l] = d_s[1][l];
        s2[l] = d_s[2][l];
        s3[l] = d_s[3][l];
    }
    for (size_t i = 0; i < pairs; i += lanes) {
        for (size_t l = 0; l < lanes; l++) {
            // xoshiro256** step, multiplications as shifts and adds
            const uint64_t x5 = (s1[l] << 2) + s1[l];
            const uint64_t r = (x5 << 7) | (x5 >> 57);
            const uint64_t u = (r << 3) + r;
            const uint64_t t = s1[l] << 17;
            s2[l] ^= s0[l];
            s3[l] ^= s1[l];
            s1[l] ^= s2[l];
            s0[l] ^= s3[l];
            s2[l] ^= t;
            s3[l] = (s3[l] << 45) | (s3[l] >> 19);
            hi[i + l] = static_cast<int32_t>(u >> 40);       // 24 bits
            lo[i + l] = static_cast<int32_t>(u & 0xffffff); // 24 bits
        }
    }
    for (size_t l = 0; l < lanes; l++) {
        d_s[0][l] = s0[l];
        d_s[1][l] = s1[l];
        d_s[2][l] = s2[l];
        d_s[3][l] = s3[l];
    }
    for (size_t i = 0; i < pairs; i++) {
        d_radius[i] = (static_cast<float>(hi[i]) + 0.5f) * 0x1.0p-24f; // (0, 1)
        d_angle[i] = static_cast<float>(lo[i]) * (0x1.0p-23f * static_cast<float>(M_PI)) -
                     static_cast<float>(M_PI); // [-pi, pi)
    }
    fast_log(d_radius.data(), d_radius.data(), pairs);
    for (size_t i = 0; i < pairs; i++)
        d_radius[i] = std::sqrt(-2.0f * d_radius[i]);
    unit_phasors(d_angle.data(), d_phasor.data(), pairs);
    for (size_t i = 0; i < pairs; i++) {
        d_buf[2 * i] = d_radius[i] * d_phasor[i].real();
        d_buf[2 * i + 1] = d_radius[i] * d_phasor[i].imag();
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

} // namespace kernels
} // namespace cohere
} // namespace gr
