/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_PREAMBLE_FIT_H
#define INCLUDED_COHERE_KERNELS_PREAMBLE_FIT_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <complex>
#include <cstddef>
#include <memory>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

//! What one detected preamble tells about the received signal.
struct sync_fit {
    //! Preamble start = integer peak index + delta (samples, |delta| <= 1).
    double delta = 0.0;
    //! Complex amplitude: the received preamble is about alpha * p[n - start].
    std::complex<double> alpha{ 0.0, 0.0 };
    //! Energy of the N-sample window at the integer peak.
    double energy = 0.0;
    //! |alpha|^2 ||p||^2 / energy: the metric at the interpolated peak.
    double metric = 0.0;
    //! Per-sample SNR estimate (linear).
    double snr = 0.0;
    //! True when the preamble is periodic (see preamble_fit::period()).
    bool has_cfo = false;
    //! Frequency offset in cycles per sample (multiply by fs for Hz).
    double cfo = 0.0;
};

/*!
 * \brief Timing, phase, amplitude, SNR and CFO of a detected preamble.
 *
 * Timing: for a received preamble alpha p delayed by D = peak + delta (ideal
 * band-limited delay), the correlations around the integer peak are
 * c[peak + m] = alpha R(m - delta) + noise with the template
 *
 *   R(tau) = sum_m a[m] sinc(tau - m),  a[m] = sum_k conj(p[k]) p[k + m],
 *
 * the band-limited interpolation of p's aperiodic autocorrelation (tabulated
 * at construction, k_grid points per sample). fit() finds the delta in
 * [-1, 1] that maximizes |sum_m conj(R(m - delta)) c[m]|^2 / sum_m |R(m - delta)|^2
 * over m = -k_lags .. k_lags (least-squares fit of the template; a grid
 * search on the table, then a parabola through the three best grid values),
 * and alpha = sum conj(R) c / sum |R|^2 at that delta. Unlike a parabola
 * through |c| (biased by up to 0.22 sample for a white sequence such as a
 * Zadoff-Chu, whose correlation peak is a sinc), the fit is unbiased for any
 * spectrum. Against the timing CRB sigma^2 / (8 pi^2 ||p||^2 (beta^2 - mu^2))
 * (beta^2, mu: second moment and mean of the normalized frequency weighted by
 * |P(f)|^2), at SNR >= 0 dB for a white N = 256 sequence, its MSE is within
 * 0.2 dB of the CRB at half-sample delays and about 1.2 dB above it at
 * integer delays: there the information of a white sequence's sinc-shaped
 * correlation is spread over the lags as 1 / m^2, and lags -2..2 hold
 * 2 (1 + 1/4) / (pi^2 / 3) = 76 % of it (measured +1.05..+1.19 dB).
 *
 * Phase: arg(alpha), the phase of the received preamble relative to p; for
 * an integer delay arg(alpha) ~ arg(c[peak]), the ML estimate with variance
 * 1 / (2 N SNR). A frequency offset f would rotate the correlation to the
 * phase at the preamble's middle and bend the template fit; when f is
 * measured (periodic preambles) the samples are derotated by it first, so
 * that arg(alpha) is the carrier phase at the start and the received phase
 * at sample n is arg(alpha) + 2 pi f (n - start).
 *
 * SNR: the noise power is what the least-squares fit of the delayed preamble
 * on the window leaves of its energy E, (E - |<y, p_delta>|^2 / E_in(delta))
 * / (N - 1), with p_delta[k] = sum_m p[m] sinc(k - m - delta) on the window
 * [0, N) and E_in(delta) its energy there; SNR = (|alpha|^2 ||p||^2 - noise)
 * / (N noise). For an integer delay p_delta = p; a fractional delay spreads
 * about sin^2(pi delta) ln(N) / pi^2 sample energies of the preamble outside
 * the window (with |alpha|^2 ||p||^2 as the window's signal energy, the
 * residual went negative from about 30 dB SNR on). p_delta is computed
 * exactly per fit: the convolution with the 2 N - 1 sinc taps that reach the
 * window, by FFTs of 2^ceil(log2(3 N - 2)) points in double precision.
 *
 * CFO: if p repeats with period L (p[k + L] = p[k] for k < N - L), the
 * frequency is arg(sum_{k < N-L} conj(x[k]) x[k + L]) / (2 pi L) cycles per
 * sample (Schmidl-Cox; unambiguous for |cfo| < 1 / (2 L)).
 *
 * Periodic preambles have metric sidelobes at multiples of L (0.5 at +-L for
 * two halves), and a CFO f lowers the main peak by sinc^2(f N) but a
 * sidelobe only by sinc^2(f (N - L)): above about 0.45 / (2 L) the sidelobe
 * wins. best_shift() resolves this: among the peak and its shifts by
 * multiples of L, it picks the window whose CFO-compensated metric is largest.
 * Near the edge of the range the estimate wraps by 1 / L (noise moves it
 * across); a window compensated with a wrapped CFO scored low, and a shifted
 * one won: the start came out L off. So each window is scored with the
 * estimate and with it plus and minus 1 / L, and the wrap of the winner
 * (the full preamble's correlation: the ML choice among the three) is kept
 * for fit(). Its CFO can then lie just beyond 1 / (2 L).
 *
 * Not thread-safe: fit() and best_shift() share a scratch buffer.
 */
class COHERE_API preamble_fit
{
public:
    //! Correlation lags used on each side of the integer peak.
    static constexpr int k_lags = 2;
    //! Template table points per sample.
    static constexpr int k_grid = 256;

    /*!
     * \param p the preamble (length >= 2)
     * \param period repetition period for the CFO; -1 detects it
     *        (detect_period), 0 means none
     * \throws std::invalid_argument if p has fewer than 2 samples, zero
     *         energy, or period is not in -1 .. N / 2
     */
    explicit preamble_fit(const std::vector<gr_complex>& p, int period = -1);
    ~preamble_fit();
    preamble_fit(preamble_fit&&) noexcept;
    preamble_fit(const preamble_fit&) = delete;
    preamble_fit& operator=(const preamble_fit&) = delete;
    preamble_fit& operator=(preamble_fit&&) = delete;

    //! E_in(delta): energy of p delayed by delta (band-limited) inside [0, N).
    double window_energy(double delta) const;
    /*!
     * \brief What the least-squares fit of alpha p_delta leaves of the energy
     * of y[0 .. N-1]: energy - |<y, p_delta>|^2 / E_in(delta).
     */
    double window_residual(const gr_complex* y, double delta, double energy) const;

    size_t length() const { return d_p.size(); }
    //! The preamble p.
    const std::vector<gr_complex>& preamble() const { return d_p; }
    //! ||p||^2
    double norm2() const { return d_norm2; }
    //! Repetition period L used for the CFO (0: none).
    size_t period() const { return d_period; }
    //! Largest multiple of L that best_shift() tries: ((N - 1) / L) L, 0 without period.
    size_t span() const { return d_period ? ((d_p.size() - 1) / d_period) * d_period : 0; }

    /*!
     * \brief For a periodic preamble, the shift o in {-span .. span} (steps of
     * L) of the window start with the largest CFO-compensated metric.
     * \param x samples from peak - span() - k_lags to peak + span() + N + k_lags
     * \param wrap set to the CFO wrap w in {-1, 0, 1} that won there: the CFO
     *        is the halves estimate plus w / L (0 without period)
     * \return o, the preamble start is at peak + o (0 without period)
     */
    long best_shift(const gr_complex* x, int& wrap) const;

    /*!
     * \brief Estimate at an integer peak.
     * \param x samples from peak - k_lags to peak + N - 1 + k_lags
     *        (N + 2 k_lags samples); non-finite samples must have been zeroed
     * \param wrap periodic preambles: add wrap / L to the halves CFO estimate
     *        (best_shift()'s choice)
     */
    sync_fit fit(const gr_complex* x, int wrap = 0) const;

    //! The template R(tau) for |tau| <= k_lags + 1 (linear interpolation of the table).
    std::complex<double> autocorrelation(double tau) const;

    /*!
     * \brief Smallest L in 1 .. N/2 with |p[k + L] - p[k]| <= tol rms(p) for
     * every k < N - L (at least two full repetitions), 0 if none.
     */
    static size_t detect_period(const std::vector<gr_complex>& p, double tol = 1e-3);

    /*!
     * \brief Probability that the metric of a window of white complex Gaussian
     * noise exceeds t: the metric is the squared cosine between a fixed
     * direction and an isotropic vector of C^N, which is Beta(1, N - 1)
     * distributed, so P(metric > t) = (1 - t)^(N - 1).
     */
    static double false_alarm_probability(double threshold, size_t len);

    /*!
     * \brief Threshold with false_alarm_probability(t, N) = pfa, but not below
     * floor: t = max(1 - pfa^(1 / (N - 1)), floor).
     */
    static double default_threshold(size_t len, double pfa = 1e-6, double floor = 0.01);

private:
    std::complex<double> table_at(int i) const { return d_table[static_cast<size_t>(i + d_half)]; }

    std::vector<gr_complex> d_p;
    double halves_cfo(const gr_complex* x) const;

    double d_norm2;
    size_t d_period;
    int d_half;                                 // table index of tau = 0
    std::vector<std::complex<double>> d_table;  // R(i / k_grid), |i| <= d_half
    std::vector<double> d_den;                  // sum_m |R(m - j / k_grid)|^2, |j| <= k_grid
    mutable std::vector<gr_complex> d_scratch;  // derotated samples
    struct convolver;                           // FFT plans and buffers of window_energy()
    std::unique_ptr<convolver> d_conv;
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_PREAMBLE_FIT_H */
