/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_SCREENED_METRIC_H
#define INCLUDED_COHERE_KERNELS_SCREENED_METRIC_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief The detection metric of normalized_metric() for one correlator step,
 * computed exactly only where it can exceed the threshold.
 *
 * For the windows j = 0 .. cnt - 1 of a step (window j is x[j .. j + N - 1]),
 *
 *   metric[j] = |c[j]|^2 / (norm2 * max(E[j], floor, FLT_MIN)),  clamped to 1,
 *
 * with E[j] the window energy (window_energy(): the double sum rounded to
 * float) and floor = 1e-8 times an upper bound of the step's largest window
 * energy (for each run of B windows that start in the same block: the energy
 * of the blocks its windows touch, clipped to the step's samples).
 *
 * Screen: the stream is cut into blocks of B samples at fixed positions,
 * whose energies the caller keeps (block_energy()). Every window starting in
 * block b wholly contains blocks b + 1 .. b + floor(N / B) - 1 (at least
 * N - 2 B + 1 samples), so their energy L, less a bound of its rounding
 * error, is a lower bound of E[j] for the whole run. Only where
 * |c[j]|^2 >= threshold * norm2 * max(L, floor, FLT_MIN) * (1 - 1e-4) can the
 * metric exceed the threshold (the factor covers the float rounding of the
 * exact metric); E[j] is computed there only. The screen is exact: it never
 * drops a window whose metric exceeds the threshold. If many windows pass
 * (more than about 32 cnt / N, e.g. a tone that a periodic preamble
 * matches), the step falls back to the running energy of sliding_energy()
 * for every window (equal to window_energy() to float rounding).
 */
class COHERE_API screened_metric
{
public:
    enum class mode {
        screened,  //!< screen, exact metric where it may exceed the threshold
        exhaustive //!< exact metric (window_energy()) at every window (reference)
    };

    /*!
     * \param len N, the window length
     * \param block B, the block length of the caller's block energies (a
     *        power of two >= 4; the screen is useful for B <= N / 4)
     * \param max_outputs the largest cnt of process()
     * \throws std::invalid_argument if len or max_outputs is 0 or block is
     *         not a power of two >= 4
     */
    screened_metric(size_t len, size_t block, size_t max_outputs);

    /*!
     * \brief The metric of windows 0 .. cnt - 1.
     * \param x the samples x[0 .. cnt + N - 2] (non-finite ones count as 0)
     * \param phase position of x[0] in its block: block k of \p sums covers
     *        x[k B - phase .. (k + 1) B - phase - 1]
     * \param sums block energies (block_energy()); only blocks wholly inside
     *        x[0 .. cnt + N - 2] are read
     * \param c the correlations of the windows
     * \param cnt number of windows, <= max_outputs
     * \param norm2 ||p||^2
     * \param threshold the detection threshold
     * \param m screened (default) or exhaustive
     * \return how many values exceed \p threshold
     */
    size_t process(const gr_complex* x,
                   size_t phase,
                   const double* sums,
                   const gr_complex* c,
                   size_t cnt,
                   float norm2,
                   float threshold,
                   mode m = mode::screened);

    /*!
     * \brief The metric of the last process(), cnt values: exact wherever it
     * may exceed the threshold, 0 or exact elsewhere (a peak_picker cannot
     * tell the difference). Valid until the next process().
     */
    const float* metric();

    /*!
     * \brief Windows passing the screen beyond which a step falls back to
     * the running energy of every window (default: 32 cnt / N + 8;
     * SIZE_MAX: never, e.g. to check the screen).
     */
    void set_dense_limit(size_t n) { d_limit = n; }

    //! floor of the last process()
    float floor() const { return d_floor; }
    //! windows that passed the screen in the last process()
    size_t candidates() const { return d_ncand; }
    //! true if the last process() computed every window (fallback)
    bool dense() const { return d_dense; }
    size_t length() const { return d_len; }
    size_t block() const { return d_block; }

private:
    const size_t d_len;
    const size_t d_block;
    const size_t d_max;
    size_t d_shift = 0; // B = 2^d_shift
    size_t d_limit = 0; // 0: the default
    std::vector<double> d_prefix;    // prefix sums of the clipped block energies
    std::vector<double> d_lower;     // lower bound of E per run
    std::vector<uint32_t> d_tbits;   // screen level per run (float bits)
    std::vector<uint32_t> d_cand;    // windows that passed the screen
    std::vector<float> d_candval;    // their metric
    std::vector<float> d_pw;         // fallback: |x|^2
    std::vector<float> d_energy;     // fallback: E
    std::vector<float> d_metric;
    size_t d_cnt = 0;
    size_t d_ncand = 0;
    float d_floor = 0.0f;
    bool d_dense = false;
    bool d_materialized = false;
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_SCREENED_METRIC_H */
