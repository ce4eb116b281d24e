/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_OFDM_PILOT_ESTIMATOR_H
#define INCLUDED_COHERE_OFDM_PILOT_ESTIMATOR_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/sync_block.h>
#include <string>
#include <vector>

namespace gr {
namespace cohere {

/*!
 * \brief Per-symbol OFDM pilot channel estimates, common phase and data values.
 * \ingroup cohere
 *
 * \details
 * Starting at a frame-start tag, cuts \p num_symbols OFDM symbols (CP +
 * FFT) out of the stream and, for each, posts one PDU on message port
 * `symbols`. The input passes through unchanged to the optional output.
 *
 * Subcarrier conventions: \p carrier_map has fft_len entries in centred order
 * (entry i is subcarrier i - fft_len/2): 0 null, 1 data, 2 pilot; the DFT is
 * unitary (Y = H X for the matching transmitter, python/cohere/ofdm.py).
 *
 * Stream tag consumed:
 * - \p tag_key (default `frame_start`): the frame's first symbol starts
 *   (CP start) \p start_offset samples after the tag. If the tag value is a
 *   dict with `index` (a `sync_peak`), round(index) replaces the tag offset;
 *   the frame may then start up to fft_len + cp_len samples before the tag
 *   (a history of one symbol keeps them), further back it is dropped. A tag
 *   whose `index` is not a finite real number below 4e18, or lies more than
 *   fft_len + cp_len samples after the tag (one such index far ahead would
 *   hold back every later frame), is dropped with a warning (its frame is
 *   not cut at the tag instead).
 *
 * Message produced on `symbols` (PDU: pair of meta dict and c32vector):
 * - data: the data subcarrier values in map order, raw (the superposed
 *   values matter for over-the-air computation) or equalized (\p equalize)
 * - `time` (uint64): absolute sample index of the symbol's CP start
 * - `frame` (uint64): sample index of the frame's first symbol
 * - `symbol` (long): symbol number within the frame
 * - `common_phase` (double, rad) and `common_amp` (double): angle and
 *   magnitude of c = sum_p conj(P_p) Y_p / sum_p |P_p|^2
 * - `pilots` (c32vector): LS channel on each pilot, Y_p / P_p
 *
 * A symbol containing NaN/Inf samples is dropped with a (rate-limited)
 * warning. Frames are cut in stream order: a frame start whose frame
 * overlaps the last accepted one (a second tag of the same frame) is dropped
 * and logged at debug level; one whose frame ends before the last accepted
 * frame starts (an earlier tag's `index` pointed further ahead) is dropped
 * with a warning.
 *
 * \param fft_len FFT size, 8..65536
 * \param cp_len cyclic prefix length, 0..fft_len
 * \param carrier_map fft_len entries of 0/1/2 with at least one pilot
 * \param pilot_values one value per pilot, in map order, of magnitude 1e-15..1e15
 * \param num_symbols symbols per frame, >= 1
 * \param start_offset samples from the tag to the first symbol, >= 0
 * \param tag_key frame-start tag key, non-empty
 * \param equalize post equalized data instead of raw values
 *
 * \throws std::invalid_argument naming the argument for invalid values.
 */
class COHERE_API ofdm_pilot_estimator : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<ofdm_pilot_estimator> sptr;

    static sptr make(int fft_len,
                     int cp_len,
                     const std::vector<int>& carrier_map,
                     const std::vector<gr_complex>& pilot_values,
                     int num_symbols,
                     int start_offset = 0,
                     const std::string& tag_key = "frame_start",
                     bool equalize = false);

    //! Symbols posted so far.
    virtual uint64_t symbols_posted() const = 0;
    //! Symbols dropped (non-finite samples) so far.
    virtual uint64_t symbols_dropped() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_OFDM_PILOT_ESTIMATOR_H */
