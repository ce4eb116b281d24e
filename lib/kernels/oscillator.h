/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_OSCILLATOR_H
#define INCLUDED_COHERE_KERNELS_OSCILLATOR_H

#include "normal_stream.h"
#include "rng.h"
#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cmath>
#include <complex>
#include <cstdint>
#include <map>
#include <mutex>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief A free-running local oscillator: frequency offset plus Wiener phase noise.
 *
 * Phase at sample n (n = 0, 1, ...):
 *   phi[0] = phi_0,  phi[n+1] = phi[n] + 2 pi df / fs + w_n,
 *   df = ppm * 1e-6 * fc,  w_n ~ N(0, 4 pi^2 fc^2 c / fs)
 * (c in seconds, the phase-noise constant of the source papers). A retune at
 * sample r replaces phi[r] by a new phase (the AD936x behaviour: the LO phase is
 * random after every retune); the new phase is given by the caller.
 *
 * The phase is accumulated in 64-bit fixed point (units of 2 pi / 2^64, so it
 * wraps by itself): the deterministic increment is 2 pi df / fs computed in
 * double precision (relative error below 4e-16) rounded to 2 pi 2^-64, each
 * noise increment is rounded to 2 pi 2^-50 = 6e-15 rad, and integer sums are
 * associative, so the result depends only on the sample index, never on how
 * the stream is cut into blocks, and the running sum is a one-cycle chain
 * instead of a floating-point one. The complex output exp(j phi[n]) comes
 * from the top 32 bits by kernels::fixed_phasors (error < 3e-7, below complex64
 * resolution); generate_phase() returns the same phase in double precision.
 * The noise increment std may be at most 2 rad (a phase that is white noise
 * from one sample to the next is not an oscillator).
 *
 * Instances are sequential: generate() continues where the last call ended.
 * Two instances built with the same arguments produce identical sequences.
 */
class COHERE_API oscillator
{
public:
    oscillator(double samp_rate,
               double center_freq,
               double ppm,
               double phase_noise_c,
               double initial_phase,
               uint64_t seed);

    //! Per-sample phase increment variance, 4 pi^2 fc^2 c / fs (rad^2).
    double increment_variance() const { return d_sigma * d_sigma; }
    //! Frequency offset in Hz.
    double frequency_offset() const { return d_df; }
    //! Index of the next sample generate() produces.
    uint64_t position() const { return d_pos; }

    /*!
     * \brief Schedule a retune: at sample \p at the phase becomes \p new_phase.
     * Thread-safe. A retune at an index already generated takes effect at the
     * next generated sample (and retune_late() counts it).
     */
    void schedule_retune(uint64_t at, double new_phase);
    uint64_t retune_late() const { return d_retune_late; }

    //! exp(+j phi[n]) for the next \p n samples.
    void generate(gr_complex* out, size_t n);
    //! phi[n] (wrapped to [-pi, pi)) for the next \p n samples.
    void generate_phase(double* out, size_t n);

private:
    template <typename F>
    void run(size_t n, F&& emit_block);
    void apply_pending_retune();

    double d_sigma; // phase-noise increment std, rad
    double d_df;
    uint64_t d_omega;       // deterministic increment, 2 pi 2^-64 units
    double d_noise_scale;   // sigma 2^50 / (2 pi): noise in 2 pi 2^-50 units
    uint64_t d_phase;       // phi[d_pos], 2 pi 2^-64 units
    uint64_t d_pos;
    normal_stream d_noise;
    std::vector<float> d_z;        // noise draws of one block
    std::vector<uint64_t> d_block; // phases of one block

    std::mutex d_retune_mutex;
    std::map<uint64_t, double> d_retunes;
    uint64_t d_next_retune;
    uint64_t d_retune_late;
};

/*!
 * \brief out[k] = exp(j 2 pi phase[k] / 2^64): unit phasors of 64-bit
 * fixed-point phases (a full turn is 2^64), single precision, from their top
 * 32 bits (kernels::phasor_one: the quadrant exactly from the top bits, the
 * rest through minimax polynomials on [-pi/4, pi/4)). Branch-free, so the
 * compiler vectorizes it; absolute error < 3e-7.
 */
COHERE_API void fixed_phasors(const uint64_t* phase, gr_complex* out, size_t n);

//! An angle in rad as a 64-bit fixed-point phase (2 pi is 2^64), wrapped.
COHERE_API uint64_t phase_to_fixed(double phase);
//! A 64-bit fixed-point phase as an angle in [-pi, pi).
inline double fixed_to_phase(uint64_t phase)
{
    return static_cast<double>(static_cast<int64_t>(phase)) * (2.0 * M_PI * 0x1.0p-64);
}

//! Wrap an angle to [-pi, pi) (slow path for angles far outside).
COHERE_API double wrap_phase_far(double x);

//! Wrap an angle to [-pi, pi).
inline double wrap_phase(double x)
{
    if (x >= -M_PI && x < M_PI)
        return x;
    if (x >= M_PI && x < 3 * M_PI)
        return x - 2 * M_PI;
    if (x < -M_PI && x >= -3 * M_PI)
        return x + 2 * M_PI;
    return wrap_phase_far(x);
}

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_OSCILLATOR_H */
