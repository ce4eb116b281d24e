/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_NORMAL_STREAM_H
#define INCLUDED_COHERE_KERNELS_NORMAL_STREAM_H

#include "rng.h"
#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <array>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief Fast block generator of N(0, 1) samples in single precision.
 *
 * Box-Muller on four interleaved xoshiro256** streams: the top 24 bits of
 * each 32-bit half of a draw are one uniform, u1 in (0, 1) (the radius, from
 * one step of the four lanes) or u2 in [0, 1) (the angle, from the next), and
 * the pair
 *   sqrt(-2 ln u1) (cos 2 pi u2, sin 2 pi u2),
 * computed in blocks of 256 pairs by branch-free, vectorizable loops (a
 * bit-level float logarithm and phasor, kernels::log_one and
 * kernels::phasor_one, fused in one pass). The 24-bit uniforms
 * truncate the distribution at |x| = 5.9 (probability 3.6e-9), irrelevant for
 * receiver noise and phase-noise increments.
 *
 * The sequence depends only on the seed, never on how fill() calls are sized.
 */
class COHERE_API normal_stream
{
public:
    explicit normal_stream(uint64_t seed);
    //! out[0 .. n-1] = the next n samples of the stream.
    void fill(float* out, size_t n);
    /*!
     * \brief The next samples of the stream in place, without a copy: z
     * points at min(max, what the internal block still holds) of them (at
     * least 1 for max > 0), valid until the next call; returns how many.
     * An even max keeps pairs together (the block holds an even number).
     */
    size_t take(size_t max, const float*& z);

private:
    static constexpr size_t pairs = 256;
    static constexpr size_t lanes = 4;
    void refill();
    // four interleaved xoshiro256** streams (seeded from one), so the
    // generator itself vectorizes: lane l produces draws l, l + 4, l + 8...
    uint64_t d_s[4][lanes];
    std::array<float, 2 * pairs> d_buf;
    size_t d_pos;
    std::array<float, pairs> d_radius;
    std::array<uint32_t, pairs> d_angle;
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_NORMAL_STREAM_H */
