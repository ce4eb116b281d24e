/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_PREAMBLE_DETECTOR_CC_H
#define INCLUDED_COHERE_PREAMBLE_DETECTOR_CC_H

#include <gnuradio/block.h>
#include <gnuradio/cohere/api.h>
#include <cstdint>
#include <vector>

namespace gr {
namespace cohere {

/*!
 * \brief Finds known preambles in a continuous stream; passes the samples
 * through unchanged.
 * \ingroup cohere
 *
 * \details
 * One input, one output, one output sample per input sample, unchanged and
 * with the same index (no delay is added to the stream: RX sample n stays
 * sample n, the node's clock). Several preambles are searched at once, one
 * per node or role; preamble i has the id i.
 *
 * Detection metric, for the N-sample window that starts at sample n:
 *
 *   metric[n] = |sum_k conj(p[k]) x[n + k]|^2 / (||p||^2 sum_k |x[n + k]|^2),
 *
 * in [0, 1] and independent of the signal level. For white Gaussian noise it
 * is Beta(1, N - 1) distributed, so P(metric > t) = (1 - t)^(N - 1) per sample.
 * The default threshold of each preamble makes this 1e-6 per sample:
 * t = 1 - 1e-6^(1 / (N - 1)) (0.6019 for N = 16, 0.0527 for N = 256, 0.0134 for
 * N = 1024), but at least 0.01 (metric 0.01 is a per-sample SNR of -20 dB;
 * the floor keeps long preambles from triggering on mildly coloured noise or
 * interference, and such weak detections would be too noisy to use).
 * At a per-sample SNR of 0 dB the peak metric is about 1/2, so the default
 * threshold detects every occurrence of a long preamble but not of a short
 * one: an audit measured (random fractional delays, 10000 trials) Pd 1 for
 * N = 128, 256 and 512, 0.986 (ZC) and 0.936 (QPSK) for N = 64, 0.66-0.70
 * for N = 32 (the misses at delays near half a sample). Measured false
 * alarms: 9.5e-7 per sample at N = 32 (2e8 samples), 1.1e-6 at N = 2048
 * with the unfloored threshold set (1e8).
 * Searching K preambles gives up to K times the per-preamble rate. Each
 * track detects on its own: an occurrence of preamble i is also tagged as j
 * where i's metric on j's correlator crosses j's threshold. The constructor
 * (and set_threshold()) computes, for every pair, the largest metric of i
 * received alone on j's correlator without noise and a bound with noise
 * (the leak's fluctuation at 4 standard deviations, over 0..60 dB), and
 * logs a warning for each pair whose bound reaches j's threshold, naming
 * both and the bound as the threshold that avoids it. Random two-halves
 * OFDM preambles of N = 256 reach 0.09 without noise and 0.12 with it (a
 * threshold just above 0.09 still left wrong-id tags from 3 to 40 dB, one
 * above 0.124 none in 2800 occurrences); distinct Zadoff-Chu roots of a
 * prime length stay well below (0.018 without noise at N = 257).
 *
 * When the metric of preamble i crosses its threshold at n1, a window opens
 * that closes W samples after its latest maximum (at most 2 W after n1); the
 * maximum is the detection (one per occurrence), and crossings before
 * peak + W are ignored. W = N - 1 (N for a periodic preamble, below): two
 * occurrences back to back, N apart, have integer peaks N - 1 apart when
 * their fractional starts round apart, and are still two detections. Window
 * starts before sample 0 are searched too, as if zeros preceded the stream: a
 * preamble cut by the stream start peaks there, where it cannot be tagged, and
 * its sidelobes after sample 0 fall in the holdoff (no tag). Likewise at the
 * end of the stream, the last N - 1 window starts are searched as if zeros
 * followed it: a preamble cut by the stream end is not tagged, nor are its
 * sidelobes before it. One ambiguity
 * remains: a periodic preamble cut by a multiple of its period L looks the
 * same as a full one at 0 whose end is missing, and may be tagged at 0 (with
 * about half its amplitude); at the stream end likewise, a periodic
 * preamble cut by a multiple of L may be tagged one or more periods before
 * its start (an audit: two halves of 128 cut by 128, 2 of 40 runs at CFO 0,
 * 39 of 40 at 0.97 of the CFO range). At a half-sample offset the peak metric is
 * about sinc^2(1/2) = 0.41 with a spread of order 1 / sqrt(N) that depends on
 * the sequence, against default thresholds of 0.37 (N = 31) and 0.26
 * (N = 48): at 30 dB, 8 % of random-phase and 23 % of BPSK occurrences
 * were missed at N = 31, some BPSK ones still at N = 48, none at N = 63.
 * Use N >= 63 when the timing is fractional. Correlation by overlap-save FFTs (gr::fft); the
 * window energy (a double-precision sum) only where the metric can exceed
 * the threshold, which an exact screen finds from the energies of fixed
 * blocks of samples (a lower bound of every window's energy that never drops
 * a window the metric accepts). Samples that are NaN or infinite are passed
 * through unchanged but count as zeros for the detector (nonfinite_count()),
 * so a burst of them affects only the windows that contain them.
 *
 * Periodic preambles (repetition period L found from the sequence, e.g. two
 * identical halves) have metric sidelobes at multiples of L, and with a
 * frequency offset a sidelobe can exceed the main peak; each detection is
 * therefore checked at the peak shifted by multiples of L with the CFO
 * compensated, and with the CFO estimate and its wraps by +-samp_rate / L
 * (near the edge noise wraps the estimate: the full preamble's correlation
 * picks the wrap). This keeps the start right wherever the preamble is
 * detected: two halves, N = 256, at 0.97 samp_rate / (2 L) and 3 dB, 2000 of
 * 2000 starts right (160 were L off before the wraps were tried), the `cfo`
 * then sometimes just beyond samp_rate / (2 L). Detection itself uses the
 * uncompensated metric, which a CFO lowers (main peak by sinc^2(cfo N /
 * samp_rate), sidelobes at most to 0.5 sinc^2(cfo L / samp_rate)): with two
 * halves, N = 256 at 0 dB loses 8 in 4000 at 0.9 samp_rate / (2 L); short
 * or many-part preambles, whose default thresholds are higher, lose the
 * upper part of the range even at 20 dB (an audit found N = 16 detected
 * only below about 0.4 of it, N = 32 below 0.7, 10 parts of 16 below 0.5;
 * N >= 64 with two halves over all of it). Repeated Zadoff-Chu sequences
 * are ambiguous in start and CFO together: a CFO of samp_rate / L is the
 * same as a cyclic shift of (u^-1 mod L) samples of the root u, so near the
 * edge of the range their start and `cfo` can both be off (ZC(5, 61) twice
 * at 0.97 of it: 187 of 200 at -12 samples and -samp_rate / L). Use
 * two-halves OFDM (ofdm_preamble) or random-QPSK halves for periodic
 * preambles. Their occurrences must be N + 2 S samples
 * apart, S = (N - 1) / L * L the largest shift (others: N): the crossings
 * are ignored for N + S samples after the picked maximum, which a frequency
 * offset can put on a sidelobe up to S after the start. With N + S to
 * N + 2 S, a later occurrence is found only through its own late sidelobe,
 * and is lost if the stream ends before that sidelobe's window does.
 *
 * Output is released once no detection can still fall on it (up to about
 * 3 N plus one FFT block of samples after the input arrived); at the end of
 * the stream everything is released and the last detections are completed.
 * The block asks GNU Radio for large buffers (history 65536 and minimum
 * output buffer 131072 items) so that each call processes many FFT blocks.
 *
 * Stream tag, on the output at the detection's integer peak (the window
 * start with the largest metric):
 * - `sync_peak`: dict with
 *   - `index` (double): fractional absolute sample index of the preamble
 *     start, from a least-squares fit of the preamble's band-limited
 *     autocorrelation to the correlation around the peak. Its MSE is 0.4 to
 *     1.5 dB above the timing CRB (most near integer delays, the fit's lags
 *     -2..2), unbiased. Errors beyond 0.1 sample: none for N >= 256 at
 *     SNR >= 0 dB (tested), none for N = 1024 down to -3 dB; at N = 128 and
 *     0 dB 21-32 in 3000 (an estimator at the CRB would give 11-15), none
 *     from 3 dB
 *   - `phase` (double, rad): phase of the received preamble relative to the
 *     reference (the angle of the correlation at the peak, from the fitted
 *     complex amplitude); for periodic preambles the samples are derotated by
 *     the measured CFO first, so it is the carrier phase at `index` and the
 *     received phase at sample n is phase + 2 pi cfo (n - index) / samp_rate.
 *     Its error variance is 1 / (2 N SNR) for aperiodic preambles; for
 *     periodic ones the CFO error adds (pi (N - 1) / samp_rate)^2 var(cfo) at
 *     the start (two halves, N = 2L: 5 / (2 N SNR) at high SNR, 7 dB more;
 *     with the CFO estimator's 1 + 1 / (2 SNR), 8.3 dB more at 0 dB), while
 *     the phase at the preamble's middle, phase + pi cfo (N - 1) / samp_rate,
 *     keeps about 1 / (2 N SNR). An audit measured (5000-20000 trials) both
 *     within 0.3 dB of these for N >= 1024 and 0.2-0.7 dB above them for
 *     N = 64..256; aperiodic preambles within 0.25 dB for N = 64..4096 at
 *     0..30 dB
 *   - `phase_at` (double): the fractional sample index where `phase` holds:
 *     `index` for periodic preambles (derotated by their CFO), else index +
 *     sum k |p[k]|^2 / ||p||^2 (the energy centroid, (N - 1) / 2 for a
 *     constant envelope: under a frequency offset the correlation's angle
 *     is the received phase there); cfo_derotator_cc uses it
 *   - `amp` (double): magnitude of the fitted complex amplitude (the received
 *     preamble is about amp e^{j phase} p)
 *   - `snr_db` (double): per-sample SNR estimate from the interpolated metric
 *   - `cfo` (double, Hz): only for periodic preambles (two or more repeated
 *     parts of length L, detected from the sequence):
 *     samp_rate / (2 pi L) arg(sum conj(x[k]) x[k + L]), unambiguous for
 *     |cfo| < samp_rate / (2 L), plus the wrap by +-samp_rate / L that the
 *     preamble's correlation prefers. With two halves its MSE is the CRB
 *     times 1 + 1 / (2 SNR) (per-sample SNR: +1.8 dB at 0 dB); with r > 2
 *     parts it uses lag L alone, above the r-part CRB (an audit measured
 *     +0.8, +2.2, +4.0 dB at r = 4, 8, 10, 20 dB)
 *   - `preamble` (long): the preamble id
 *
 * Message output port `sync`: the same dict plus `time` (uint64, the tag's
 * sample index), posted when the tagged sample is released.
 *
 * \param preambles the preambles (each 16 .. 4096 complex samples of RMS
 *        magnitude 1e-15 .. 1e15; the metric does not depend on the scale)
 * \param threshold metric threshold in (0, 1) for every preamble; 0 selects
 *        each preamble's default (see above)
 * \param samp_rate sample rate in Hz (for `cfo`)
 *
 * \throws std::invalid_argument for no preambles, a preamble shorter than 16
 *         or longer than 4096 samples, with a non-finite sample or an RMS
 *         outside 1e-15..1e15,
 *         a threshold outside (0, 1) other than 0, or a samp_rate that is
 *         not finite and > 0.
 */
class COHERE_API preamble_detector_cc : virtual public gr::block
{
public:
    typedef std::shared_ptr<preamble_detector_cc> sptr;

    static sptr make(const std::vector<std::vector<gr_complex>>& preambles,
                     double threshold = 0.0,
                     double samp_rate = 1.0);

    //! Set every preamble's threshold (0 < t < 1), or 0 for the defaults.
    //! \throws std::invalid_argument for other values
    virtual void set_threshold(double threshold) = 0;
    //! Threshold in use for preamble i.
    virtual double threshold(int preamble) const = 0;
    //! Default threshold of preamble i (false alarms 1e-6 per sample, floor 0.01).
    virtual double default_threshold(int preamble) const = 0;
    virtual int num_preambles() const = 0;
    //! Length N of preamble i.
    virtual int preamble_length(int preamble) const = 0;
    //! Repetition period L of preamble i used for the CFO (0: no CFO estimate).
    virtual int repetition_period(int preamble) const = 0;
    virtual double samp_rate() const = 0;
    /*!
     * Largest number of samples the output can lag the newest input sample
     * (3 N + span + one FFT block, for the longest preamble). A flowgraph
     * that feeds this block's output back to its input through the emulator
     * (RX -> detector -> burst scheduler -> TX) needs a lookahead larger than
     * this, or it stalls.
     */
    virtual int max_delay() const = 0;
    //! Input samples treated as zeros because they were NaN or infinite.
    virtual uint64_t nonfinite_count() const = 0;
    //! Detections tagged so far.
    virtual uint64_t detection_count() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_PREAMBLE_DETECTOR_CC_H */
