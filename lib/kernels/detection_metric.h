/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_DETECTION_METRIC_H
#define INCLUDED_COHERE_KERNELS_DETECTION_METRIC_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief A copy for analysis: out[k] = in[k], or 0 when in[k] has a NaN or
 * infinite part or |in[k]|^2 overflows a float.
 * \return the number of samples replaced by zeros
 */
COHERE_API size_t sanitize_copy(const gr_complex* in, gr_complex* out, size_t n);

/*!
 * \brief Energies of consecutive blocks of \p block samples, and optionally a
 * copy, in one pass: sums[k] = sum of |x|^2 over in[k block .. k block + block
 * - 1] (partial sums in float, relative error below (block / 8 + 4) 2^-24;
 * in double if the block has a non-finite sample or the float sum
 * overflows), bad[k] = how many of those samples are non-finite (they count
 * as 0, as in sanitize_copy()); out[k] = in[k] unchanged if out is not null.
 * The last block may be partial (n not a multiple of block).
 *
 * The sum of a block is always formed in the same order from its first
 * sample, so a block completed by a later call (recomputed from its start)
 * gets the same bits as one computed in a single call.
 * \return the number of non-finite samples
 */
COHERE_API size_t block_energy(const gr_complex* in,
                               gr_complex* out,
                               size_t n,
                               size_t block,
                               double* sums,
                               uint32_t* bad);

/*!
 * \brief Energy of one window: sum of |x[k]|^2, k < len, in double precision
 * rounded to float, non-finite samples counting as 0.
 */
COHERE_API float window_energy(const gr_complex* x, size_t len);

/*!
 * \brief Sliding window energy E[j] = sum_{k=0}^{N-1} pw[j + k], j < nout
 * (pw holds nout + N - 1 values), stored as float.
 *
 * A running sum in double precision (four interleaved chains), restarted
 * from an exact sum every \p restart outputs and at every call, so rounding
 * never accumulates over a stream and a huge sample stops mattering once it
 * has left the window. For float inputs within about 80 dB of each other the
 * double sums are exact, so a window of zeros gives exactly 0.
 * \return the largest E[j] (0 for nout = 0)
 */
COHERE_API float sliding_energy(
    const float* pw, size_t len, size_t nout, float* energy, size_t restart = 4096);

/*!
 * \brief The level-independent detection metric
 *
 *   metric[j] = |c[j]|^2 / (norm2 * max(E[j], floor, FLT_MIN))   in [0, 1]
 *
 * (Cauchy-Schwarz) with c the correlation with the preamble p, norm2 = ||p||^2
 * and E the window energy; a window of zeros gives 0. The floor keeps the
 * rounding noise of an FFT correlation (about 1e-7 of the block's level) in
 * a window that is far weaker than its neighbours from looking like a match:
 * callers pass about 1e-8 times the largest window energy of the block.
 * Float arithmetic: inputs up to about 1e15 in magnitude.
 * \return how many values exceed \p threshold
 */
COHERE_API size_t normalized_metric(const gr_complex* c,
                                    const float* energy,
                                    float norm2,
                                    float floor,
                                    float threshold,
                                    float* metric,
                                    size_t n);

//! cross_metric(): how preamble a shows on preamble b's correlator.
struct cross_leak {
    double metric = 0.0; //!< largest noise-free metric
    long lag = 0;        //!< its window start s
    double bound = 0.0;  //!< largest with noise, over window starts and SNRs
    long bound_lag = 0;  //!< its window start
    double bound_snr_db = 0.0; //!< its per-sample SNR
};

/*!
 * \brief How high the detection metric of preamble \p b climbs when preamble
 * \p a is received alone.
 *
 * For each window start s (relative to a's start) whose window overlaps a,
 * c(s) = sum_m a[s + m] conj(b[m]) and E(s) = the energy of a in the window
 * (a outside its samples is 0):
 * - metric: |c|^2 / (E ||b||^2), received without noise;
 * - bound: with white noise of power s2 per sample, the window's correlation
 *   is c + w, w ~ CN(0, s2 ||b||^2), and its energy about E + Nb s2. The
 *   bound takes w's component along c at z standard deviations and the
 *   noise energy z standard deviations low:
 *   (|c|^2 + sqrt(2) z |c| sw + sw^2) / ((E + Nb s2 max(0, 1 - z / sqrt(Nb))) ||b||^2),
 *   sw^2 = s2 ||b||^2, the largest over s2 = mean |a|^2 / snr for snr from
 *   0 to 60 dB in 1 dB steps. With z = 4 the leak's own fluctuation takes a
 *   window above it with probability 3e-5 (the Gaussian tail at 4; the
 *   noise's |w|^2 alone is what the threshold's false-alarm rate covers).
 *
 * Above b's threshold, an occurrence of a is also detected as b. Direct
 * correlation, Na Nb operations (construction-time use).
 */
COHERE_API cross_leak cross_metric(const std::vector<gr_complex>& a,
                                   const std::vector<gr_complex>& b,
                                   double z = 4.0);

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_DETECTION_METRIC_H */
