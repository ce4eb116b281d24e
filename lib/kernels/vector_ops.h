/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_VECTOR_OPS_H
#define INCLUDED_COHERE_KERNELS_VECTOR_OPS_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>
#include <cstring>

// Hot loops are compiled twice, for AVX2 and for the x86-64 baseline, and the
// loader picks one per CPU (GCC function multiversioning). Other compilers and
// architectures get the plain version. FMA stays off on purpose: contracting
// a * b + c differently in a vector body and its scalar tail would make
// results depend on where a buffer boundary splits a loop, and the emulator
// and the blocks promise the same bits whatever the buffer sizes.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && defined(__linux__)
#define COHERE_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define COHERE_CLONES
#endif

namespace gr {
namespace cohere {
namespace kernels {

//! The bits of a float and back (bit casts the compiler vectorizes).
inline __attribute__((always_inline)) uint32_t float_bits(float x)
{
    uint32_t b;
    std::memcpy(&b, &x, sizeof(b));
    return b;
}
inline __attribute__((always_inline)) float bits_float(uint32_t b)
{
    float x;
    std::memcpy(&x, &b, sizeof(x));
    return x;
}

//! out[k] = g * x[k] (element-wise, the same bits whatever n or alignment)
COHERE_API void cscale(gr_complex* out, const gr_complex* x, gr_complex g, size_t n);
//! s[k] += g * x[k]
COHERE_API void cmac(gr_complex* s, const gr_complex* x, gr_complex g, size_t n);
//! s[k] += g[t] * x[t][k] for t = 0 .. terms - 1, in that order: the same
//! bits as that many cmac calls, with one pass over s per four terms. With
//! fresh, s is taken as zeros and never read (the same bits as zeroing it
//! first, without the extra pass; zeros are written if terms is 0).
COHERE_API void cmac_many(gr_complex* s,
                          const gr_complex* const* x,
                          const gr_complex* g,
                          size_t terms,
                          size_t n,
                          bool fresh = false);
//! out[k] = g * x[k] * r[k]
COHERE_API void cmul3(gr_complex* out, const gr_complex* x, const gr_complex* r, gr_complex g, size_t n);
//! out[k] = g * x[k] * r[k]; false if some out[k] has a NaN or infinite part
//! (the check reads out while it is still in cache)
COHERE_API bool cmul3_finite(gr_complex* out, const gr_complex* x, const gr_complex* r, gr_complex g, size_t n);
//! Replace the samples of x with a NaN or infinite part by 0; returns how many.
COHERE_API size_t zero_nonfinite(gr_complex* x, size_t n);
//! out[k] = g * x[k] * conj(r[k])
COHERE_API void cmul3_conj(gr_complex* out, const gr_complex* x, const gr_complex* r, gr_complex g, size_t n);
//! out[k] = g * x[k] * conj(r[k]) + a * (z[2k] + j z[2k+1]): the same bits
//! as cmul3_conj followed by adding a * z, in one pass
COHERE_API void cmul3_conj_noise(gr_complex* out,
                                 const gr_complex* x,
                                 const gr_complex* r,
                                 gr_complex g,
                                 const float* z,
                                 float a,
                                 size_t n);

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_VECTOR_OPS_H */
