/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_NCO_H
#define INCLUDED_COHERE_KERNELS_NCO_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief Phase-continuous numerically controlled oscillator (derotator).
 *
 * Sign convention: the NCO phase at sample n is
 *   theta[n] = phase_a + omega (n - a),   omega = 2 pi f / fs,
 * where a is the anchor (the sample of the last retune) and derotate()
 * computes y[n] = x[n] exp(-j theta[n]). A received signal with a carrier
 * frequency offset of +f Hz, x[n] = s[n] exp(+j (2 pi f n / fs + phi)), is
 * brought back to s[n] by an NCO at frequency f and phase phi.
 *
 * Precision. theta[n] is never accumulated sample by sample: it is evaluated
 * in closed form from (a, phase_a, omega) with an exact product
 * (fma residual) and a two-part 2 pi, so its error is a few 1e-16 rad at any
 * distance from the anchor (no drift over 1e9 samples or more). The output
 * is computed in blocks of block_len samples aligned to the anchor:
 *   y[n] = (x[n] p_b) t[k],  p_b = exp(-j theta[a + b block_len]),
 *   t[k] = exp(-j omega k),  n = a + b block_len + k,
 * with p_b computed in double and the table t in double (rounded to float
 * once). The phase error of y is therefore bounded, independent of n, by the
 * rounding of p_b and t[k] to float (2^-25 sqrt(2) each) and of two complex
 * products (sqrt(5) 2^-24 each): < 3.5e-7 rad. Per sample this is two complex
 * multiplications with no loop-carried dependency, which the compiler
 * vectorizes (AVX2 clone, kernels/vector_ops.h).
 *
 * The output depends only on the sample index and the retune history, never
 * on how the stream is cut into calls (the blocks are aligned to the anchor).
 */
class COHERE_API nco
{
public:
    //! Samples per block (table length).
    static constexpr size_t block_len = 1024;

    /*!
     * \param samp_rate sample rate in Hz (> 0, finite)
     * \param frequency initial frequency in Hz (finite)
     * \param phase phase of sample 0 in rad (finite)
     * \throws std::invalid_argument for non-finite or non-positive values
     */
    explicit nco(double samp_rate, double frequency = 0.0, double phase = 0.0);

    double samp_rate() const { return d_fs; }
    //! Frequency in Hz.
    double frequency() const { return d_freq; }
    //! Index of the next sample derotate() processes.
    uint64_t position() const { return d_pos; }
    //! theta[position()] wrapped to [-pi, pi).
    double phase() const { return phase_at(d_pos); }
    //! theta[n] wrapped to [-pi, pi), for n >= the last retune.
    double phase_at(uint64_t n) const;

    //! Change the frequency at position(), phase-continuous. \throws std::invalid_argument
    void set_frequency(double frequency);
    //! Set theta[position()] to \p phase. \throws std::invalid_argument
    void set_phase(double phase);
    //! Both at position(): theta[position()] = phase, then the new frequency.
    void set(double frequency, double phase);

    /*!
     * \brief out[k] = in[k] exp(-j theta[position() + k]) for k < n; advances.
     * \p out must not overlap \p in. NaN/Inf input samples give NaN/Inf output
     * samples and never touch the NCO state.
     */
    void derotate(const gr_complex* in, gr_complex* out, size_t n);

    //! Skip \p n samples.
    void advance(uint64_t n) { d_pos += n; }

private:
    void rebuild_table();
    void load_block(uint64_t block);

    const double d_fs;
    double d_freq;
    double d_omega;        // rad/sample, wrapped to [-pi, pi)
    uint64_t d_anchor;     // sample of the last retune
    double d_anchor_phase; // theta[d_anchor]
    uint64_t d_pos;
    uint64_t d_block;      // index of the block whose phasor is in d_p0
    bool d_block_valid;
    gr_complex d_p0;
    std::vector<gr_complex> d_table; // exp(-j omega k), k < block_len
};

/*!
 * \brief (omega m) mod 2 pi for an integer m < 2^53, to a few 1e-16 rad.
 * The product is split exactly (fma residual) and reduced with a two-part
 * 2 pi, so the result does not degrade with m.
 */
COHERE_API double reduced_phase(double omega, uint64_t m);

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_NCO_H */
