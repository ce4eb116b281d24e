/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_LINK_FILTER_H
#define INCLUDED_COHERE_KERNELS_LINK_FILTER_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief The impulse response of one propagation link as an FIR.
 *
 *   y[n] = sum_{q=0}^{Q-1} taps[q] * x[n - k0 - q]
 *
 * k0 may be negative: a fractional delay shorter than the interpolator's half
 * length needs input samples slightly ahead of n (the emulator provides them,
 * because TX is buffered ahead of RX).
 */
struct COHERE_API link_fir {
    int64_t k0 = 0;
    std::vector<gr_complex> taps{ gr_complex(1, 0) };

    //! Oldest input index needed for output n: n - k0 - Q + 1.
    int64_t oldest_offset() const { return k0 + static_cast<int64_t>(taps.size()) - 1; }
    //! Newest input index needed for output n is n - newest_offset().
    int64_t newest_offset() const { return k0; }
    bool is_identity() const { return k0 == 0 && taps.size() == 1 && taps[0] == gr_complex(1, 0); }
};

/*!
 * \brief Design the FIR of a link with one or more paths.
 *
 * Each path p arrives with delay delays[p] (samples, >= 0) and complex gain
 * gains[p]. Integer delays (within 1e-9 sample) give a single tap; fractional
 * ones a Kaiser-windowed sinc (beta 8) of 2 * half_len taps, normalized to unit
 * DC gain. Accurate for band-limited signals up to about 0.4 fs.
 *
 * With lo_w != 0 the input is taken as x[m] exp(j lo_w m), a band-limited x
 * after a transmitter LO of lo_w rad per sample, and the FIR gives
 * x(n - d) exp(j lo_w (n - d)): x delayed, the LO phase at the emission
 * time (the fractional taps are modulated by exp(j lo_w (t - d)), t the
 * tap's delay; integer paths are unchanged). Without it the interpolation
 * sees the spectrum shifted by the LO and loses accuracy toward fs / 2.
 *
 * \throws std::invalid_argument on negative or non-finite delays, size
 *         mismatch, empty paths or half_len < 2.
 */
COHERE_API link_fir design_link_fir(const std::vector<double>& delays,
                                    const std::vector<gr_complex>& gains,
                                    int half_len = 16,
                                    double lo_w = 0.0);

/*!
 * \brief Windowed-sinc interpolation weights for a fractional position.
 *
 * For a signal value wanted at position base + frac (0 <= frac < 1), out[i]
 * (i = 0 .. 2 half_len - 1) weights the sample at base - half_len + 1 + i.
 * Kaiser window (beta 8), normalized to unit DC gain.
 */
COHERE_API void windowed_sinc_taps(double frac, int half_len, double* out);

/*!
 * \brief Apply a link FIR.
 * \param x input window: x[0] is input index n0 - fir.oldest_offset(), length
 *        n + taps - 1.
 * \param y output for indices n0 .. n0 + n - 1 (overwritten).
 */
COHERE_API void apply_link_fir(const link_fir& fir, const gr_complex* x, gr_complex* y, size_t n);

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_LINK_FILTER_H */
