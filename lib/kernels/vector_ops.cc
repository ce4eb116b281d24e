/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "vector_ops.h"
#include <algorithm>
#include <cmath>
#include <cstdint>

namespace gr {
namespace cohere {
namespace kernels {

// All loops work on interleaved floats so the compiler vectorizes them.

namespace {
inline __attribute__((always_inline)) void
cscale_loop(float* __restrict o, const float* __restrict xp, float gr, float gi, size_t n)
{
    for (size_t k = 0; k < n; k++) {
        const float xr = xp[2 * k], xi = xp[2 * k + 1];
        o[2 * k] = gr * xr - gi * xi;
        o[2 * k + 1] = gr * xi + gi * xr;
    }
}
} // namespace

COHERE_CLONES
void cscale(gr_complex* __restrict out, const gr_complex* __restrict x, gr_complex g, size_t n)
{
    float* __restrict o = reinterpret_cast<float*>(out);
    const float* __restrict xp = reinterpret_cast<const float*>(x);
    const float gr = g.real(), gi = g.imag();
    // the first samples one by one up to a 32-byte aligned output (stores
    // that straddle cache lines cost more than misaligned loads); the same
    // operations on every element, so the bits do not depend on the cut
    size_t head = (32 - reinterpret_cast<uintptr_t>(o) % 32) % 32 / sizeof(gr_complex);
    if (reinterpret_cast<uintptr_t>(o) % sizeof(gr_complex) != 0 || head > n)
        head = n;
    cscale_loop(o, xp, gr, gi, head);
    float* oa = static_cast<float*>(__builtin_assume_aligned(o + 2 * head, 32));
    cscale_loop(oa, xp + 2 * head, gr, gi, n - head);
}

namespace {
// s[k] += g[0] x[0][k], then += g[1] x[1][k] ...: one pass over s for N
// terms (N = 1 is cmac), the same operations in the same order as N passes
// of one term each. With Fresh, s is taken as zeros without being read
// (0.0f + the first product: the same bits as adding to a zeroed s, signed
// zeros included).
template <int N, bool Fresh>
COHERE_CLONES void cmac_group_n(gr_complex* __restrict s,
                                const gr_complex* const* x,
                                const gr_complex* g,
                                size_t n)
{
    float* __restrict sp = reinterpret_cast<float*>(s);
    const float* __restrict xp[N];
    float gr[N], gi[N];
    for (int t = 0; t < N; t++) {
        xp[t] = reinterpret_cast<const float*>(x[t]);
        gr[t] = g[t].real();
        gi[t] = g[t].imag();
    }
    for (size_t k = 0; k < n; k++) {
        float re = Fresh ? 0.0f : sp[2 * k], im = Fresh ? 0.0f : sp[2 * k + 1];
        for (int t = 0; t < N; t++) {
            const float xr = xp[t][2 * k], xi = xp[t][2 * k + 1];
            re += gr[t] * xr - gi[t] * xi;
            im += gr[t] * xi + gi[t] * xr;
        }
        sp[2 * k] = re;
        sp[2 * k + 1] = im;
    }
}

template <bool Fresh>
void cmac_group(
    gr_complex* s, const gr_complex* const* x, const gr_complex* g, size_t terms, size_t n)
{
    switch (terms) {
    case 4:
        cmac_group_n<4, Fresh>(s, x, g, n);
        break;
    case 3:
        cmac_group_n<3, Fresh>(s, x, g, n);
        break;
    case 2:
        cmac_group_n<2, Fresh>(s, x, g, n);
        break;
    default:
        cmac_group_n<1, Fresh>(s, x, g, n);
    }
}
} // namespace

void cmac(gr_complex* s, const gr_complex* x, gr_complex g, size_t n)
{
    cmac_group_n<1, false>(s, &x, &g, n);
}

void cmac_many(gr_complex* s,
               const gr_complex* const* x,
               const gr_complex* g,
               size_t terms,
               size_t n,
               bool fresh)
{
    size_t t = 0;
    if (fresh) {
        if (terms == 0) {
            std::fill_n(s, n, gr_complex(0, 0));
            return;
        }
        t = std::min<size_t>(terms, 4);
        cmac_group<true>(s, x, g, t, n);
    }
    while (t < terms) {
        const size_t group = std::min<size_t>(terms - t, 4);
        cmac_group<false>(s, x + t, g + t, group, n);
        t += group;
    }
}

namespace {
// out[k] = g * x[k] * (r[k] or conj(r[k])), plus a * (z[2k] + j z[2k+1])
// added to the rounded product when add_noise
template <bool conj_r, bool add_noise = false>
inline void cmul3_impl(gr_complex* __restrict out,
                       const gr_complex* __restrict x,
                       const gr_complex* __restrict r,
                       gr_complex g,
                       size_t n,
                       const float* __restrict z = nullptr,
                       float a = 0.0f)
{
    float* __restrict o = reinterpret_cast<float*>(out);
    const float* __restrict xp = reinterpret_cast<const float*>(x);
    const float* __restrict rp = reinterpret_cast<const float*>(r);
    const float gr = g.real(), gi = g.imag();
    for (size_t k = 0; k < n; k++) {
        const float ar = gr * xp[2 * k] - gi * xp[2 * k + 1];
        const float ai = gr * xp[2 * k + 1] + gi * xp[2 * k];
        const float br = rp[2 * k];
        const float bi = conj_r ? -rp[2 * k + 1] : rp[2 * k + 1];
        const float yr = ar * br - ai * bi;
        const float yi = ar * bi + ai * br;
        o[2 * k] = add_noise ? yr + a * z[2 * k] : yr;
        o[2 * k + 1] = add_noise ? yi + a * z[2 * k + 1] : yi;
    }
}
} // namespace

COHERE_CLONES
void cmul3(gr_complex* out, const gr_complex* x, const gr_complex* r, gr_complex g, size_t n)
{
    cmul3_impl<false>(out, x, r, g, n);
}

COHERE_CLONES
bool cmul3_finite(gr_complex* __restrict out,
                  const gr_complex* __restrict x,
                  const gr_complex* __restrict r,
                  gr_complex g,
                  size_t n)
{
    cmul3_impl<false>(out, x, r, g, n);
    // a float is NaN or Inf exactly when its exponent bits are all ones; an
    // integer OR-reduction over them vectorizes (a float one would not)
    const float* o = reinterpret_cast<const float*>(out);
    uint32_t bad = 0;
    for (size_t k = 0; k < 2 * n; k++)
        bad |= static_cast<uint32_t>((float_bits(o[k]) & 0x7f800000u) == 0x7f800000u);
    return bad == 0;
}

size_t zero_nonfinite(gr_complex* x, size_t n)
{
    size_t count = 0;
    for (size_t k = 0; k < n; k++) {
        if (!std::isfinite(x[k].real()) || !std::isfinite(x[k].imag())) {
            x[k] = gr_complex(0, 0);
            count++;
        }
    }
    return count;
}

COHERE_CLONES
void cmul3_conj(gr_complex* out, const gr_complex* x, const gr_complex* r, gr_complex g, size_t n)
{
    cmul3_impl<true>(out, x, r, g, n);
}

COHERE_CLONES
void cmul3_conj_noise(gr_complex* out,
                      const gr_complex* x,
                      const gr_complex* r,
                      gr_complex g,
                      const float* z,
                      float a,
                      size_t n)
{
    cmul3_impl<true, true>(out, x, r, g, n, z, a); // cmul3_conj, then the noise, in one pass
}

} // namespace kernels
} // namespace cohere
} // namespace gr
