/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_OFDM_PILOTS_H
#define INCLUDED_COHERE_KERNELS_OFDM_PILOTS_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/fft/fft.h>
#include <gnuradio/gr_complex.h>
#include <memory>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief Demodulates one OFDM symbol and estimates the channel on its pilots.
 *
 * Conventions (the same as python/cohere/ofdm.py):
 * - carrier_map has fft_len entries in centred order: entry i is subcarrier
 *   i - fft_len/2 (FFT bin (i - fft_len/2) mod fft_len); 0 = null, 1 = data,
 *   2 = pilot.
 * - unitary DFT: Y[k] = fft_len^-1/2 sum_n x[cp + n] exp(-j 2 pi k n / fft_len),
 *   so Y = H X on every subcarrier for a transmitter using the matching IDFT.
 * - pilot_values: the known pilot symbols, one per pilot, in map order.
 *
 * Per symbol: LS channel on pilots H_p = Y_p / P_p; common value
 * c = sum_p conj(P_p) Y_p / sum_p |P_p|^2 (its angle is the common phase,
 * the maximum-likelihood phase for a flat channel); data values raw, or
 * equalized by the channel interpolated linearly between pilots (held
 * constant beyond the outermost pilots).
 */
class COHERE_API ofdm_pilots
{
public:
    ofdm_pilots(int fft_len,
                int cp_len,
                const std::vector<int>& carrier_map,
                const std::vector<gr_complex>& pilot_values);

    int fft_len() const { return d_fft_len; }
    int cp_len() const { return d_cp_len; }
    int symbol_len() const { return d_fft_len + d_cp_len; }
    size_t num_pilots() const { return d_pilot_bins.size(); }
    size_t num_data() const { return d_data_bins.size(); }

    /*!
     * \param x the symbol from its CP start (symbol_len() samples)
     * \param pilot_ls out: num_pilots() LS channel values
     * \param data_raw out: num_data() received data values
     * \param data_eq out: num_data() equalized data values (may be nullptr)
     * \return the common value c (see class documentation)
     */
    gr_complex process(const gr_complex* x,
                       gr_complex* pilot_ls,
                       gr_complex* data_raw,
                       gr_complex* data_eq);

private:
    int d_fft_len, d_cp_len;
    std::unique_ptr<gr::fft::fft_complex_fwd> d_fft;
    std::vector<int> d_pilot_bins, d_data_bins; // FFT bins
    std::vector<int> d_pilot_pos, d_data_pos;   // centred subcarrier indices
    std::vector<gr_complex> d_pilot_values;
    double d_pilot_energy; // sum |P|^2
    float d_scale;
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_OFDM_PILOTS_H */
