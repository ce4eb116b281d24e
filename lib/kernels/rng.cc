/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "rng.h"
#include <cmath>

namespace gr {
namespace cohere {
namespace kernels {

uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b, uint64_t c)
{
    uint64_t h = mix64(seed);
    h = mix64(h ^ mix64(a + 1));
    h = mix64(h ^ mix64(b + 0x51ed2701ULL));
    h = mix64(h ^ mix64(c + 0x2545f491ULL));
    return h;
}

xoshiro256::xoshiro256(uint64_t seed)
{
    uint64_t x = seed;
    for (auto& s : d_s) {
        x += 0x9e3779b97f4a7c15ULL;
        s = mix64(x);
    }
}

namespace {

// Ziggurat tables for f(x) = exp(-x^2 / 2) with 256 layers of equal area V.
// Layer 0 is the base strip [0, R) x [0, f(R)) extended by the tail; its
// nominal width X[0] = V / f(R) makes all layers the same area.
constexpr int n_layers = 256;
constexpr double zig_r = 3.6541528853610088;
constexpr double zig_v = 4.92867323399e-3;

struct ziggurat_tables {
    double x[n_layers + 1];
    double f[n_layers + 1];
    ziggurat_tables()
    {
        auto pdf = [](double v) { return std::exp(-0.5 * v * v); };
        x[0] = zig_v / pdf(zig_r);
        x[1] = zig_r;
        for (int i = 1; i < n_layers; i++) {
            const double arg = pdf(x[i]) + zig_v / x[i];
            x[i + 1] = arg >= 1.0 ? 0.0 : std::sqrt(-2.0 * std::log(arg));
        }
        x[n_layers] = 0.0;
        for (int i = 0; i <= n_layers; i++)
            f[i] = pdf(x[i]);
    }
};

const ziggurat_tables& tables()
{
    static const ziggurat_tables t;
    return t;
}

} // namespace

gaussian_rng::gaussian_rng(uint64_t seed) : d_gen(seed), d_x(tables().x) {}

double gaussian_rng::slow_path(int layer, double x, bool negative)
{
    const ziggurat_tables& t = tables();
    for (;;) {
        if (layer == 0) {
            // Tail beyond R (Marsaglia's method).
            double a, b;
            do {
                a = -std::log(1.0 - d_gen.uniform()) / zig_r;
                b = -std::log(1.0 - d_gen.uniform());
            } while (2.0 * b < a * a);
            const double v = zig_r + a;
            return negative ? -v : v;
        }
        // Wedge between the rectangle and the curve.
        const double y = t.f[layer] + d_gen.uniform() * (t.f[layer + 1] - t.f[layer]);
        if (y < std::exp(-0.5 * x * x))
            return negative ? -x : x;
        // Rejected: draw a fresh point.
        const uint64_t u = d_gen.next();
        layer = static_cast<int>(u & 0xff);
        negative = (u >> 8) & 1;
        x = (u >> 11) * 0x1.0p-53 * t.x[layer];
        if (x < t.x[layer + 1])
            return negative ? -x : x;
    }
}

} // namespace kernels
} // namespace cohere
} // namespace gr
