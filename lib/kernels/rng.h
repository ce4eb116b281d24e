/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_RNG_H
#define INCLUDED_COHERE_KERNELS_RNG_H

#include <gnuradio/cohere/api.h>
#include <array>
#include <cstdint>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief SplitMix64 finalizer: a bijective 64-bit mixer.
 *
 * Used to derive independent stream seeds from one user seed, so every
 * stochastic component of the emulator (per node, per antenna, per purpose)
 * draws from its own stream and results never depend on thread timing.
 */
COHERE_API uint64_t mix64(uint64_t x);

//! Seed of an independent stream: a hash of the user seed and up to three labels.
COHERE_API uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b = 0, uint64_t c = 0);

/*!
 * \brief xoshiro256** generator (Blackman and Vigna), seeded through SplitMix64.
 *
 * Chosen over std::mt19937 because it is several times faster and, unlike the
 * standard distributions, its output (and the Gaussian sampler below) is
 * specified bit for bit by this code on every platform.
 */
class COHERE_API xoshiro256
{
public:
    explicit xoshiro256(uint64_t seed);
    uint64_t next()
    {
        const uint64_t result = rotl(d_s[1] * 5, 7) * 9;
        const uint64_t t = d_s[1] << 17;
        d_s[2] ^= d_s[0];
        d_s[3] ^= d_s[1];
        d_s[1] ^= d_s[2];
        d_s[0] ^= d_s[3];
        d_s[2] ^= t;
        d_s[3] = rotl(d_s[3], 45);
        return result;
    }
    //! Uniform double in [0, 1) with 53 random bits.
    double uniform() { return (next() >> 11) * 0x1.0p-53; }

private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    std::array<uint64_t, 4> d_s;
};

/*!
 * \brief Standard normal sampler: Marsaglia-Tsang ziggurat with 256 layers.
 *
 * One 64-bit draw per sample in about 99 % of cases (8 bits choose the layer,
 * 1 bit the sign, 53 bits the abscissa); the rest fall back to the exact
 * wedge test or the exponential tail method. Deterministic for a given seed.
 */
class COHERE_API gaussian_rng
{
public:
    explicit gaussian_rng(uint64_t seed);
    //! One N(0, 1) sample.
    double operator()()
    {
        const uint64_t u = d_gen.next();
        const int layer = static_cast<int>(u & 0xff);
        const bool negative = (u >> 8) & 1;
        const double x = (u >> 11) * 0x1.0p-53 * d_x[layer];
        if (x < d_x[layer + 1])
            return negative ? -x : x;
        return slow_path(layer, x, negative);
    }
    //! Uniform double in [0, 1) from the same stream.
    double uniform() { return d_gen.uniform(); }

private:
    double slow_path(int layer, double x, bool negative);
    xoshiro256 d_gen;
    const double* d_x; // layer edges x[0..256] of the shared ziggurat tables
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_RNG_H */
