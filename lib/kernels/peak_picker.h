/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_PEAK_PICKER_H
#define INCLUDED_COHERE_KERNELS_PEAK_PICKER_H

#include <gnuradio/cohere/api.h>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

//! One detection: absolute index of the metric sample and its value.
struct peak {
    uint64_t index = 0;
    float metric = 0.0f;
};

/*!
 * \brief One detection per threshold crossing of a streamed metric.
 *
 * When the metric first exceeds the threshold at index n1, a window opens;
 * it closes \p window samples after its latest maximum, but at most
 * 2 window samples after n1, and the maximum (the first one on ties) is
 * reported. After a peak at p, crossings before p + holdoff are ignored.
 *
 * With window = holdoff = N (the preamble length) a preamble gives one
 * detection at its peak, even with correlation sidelobes (a sequence of two
 * identical halves has metric sidelobes of 0.5 at +-N/2: the early one opens
 * the window, which extends to the peak; the late one falls in the holdoff).
 * Closing N after the latest maximum, rather than N after the crossing, also
 * keeps a noise crossing up to 2 N before a preamble from hiding it: either
 * the window extends to the preamble's peak, or it closes on the noise peak
 * early enough for the preamble to open its own window.
 *
 * Calls must feed consecutive indices; the state carries across calls, so the
 * result does not depend on how the stream is cut.
 */
class COHERE_API peak_picker
{
public:
    //! \throws std::invalid_argument if window is 0
    peak_picker(size_t window, size_t holdoff, float threshold);

    void set_threshold(float threshold) { d_threshold = threshold; }
    float threshold() const { return d_threshold; }
    size_t window() const { return d_window; }

    /*!
     * \brief Feed metric[0 .. n-1], the values at absolute indices first ..
     * first + n - 1. Completed peaks are appended to \p out (at most
     * n / window + 1 of them; reserve that to keep the call allocation-free).
     * \return the number of peaks appended
     */
    size_t process(const float* metric, size_t n, uint64_t first, std::vector<peak>& out);

    /*!
     * \brief Lowest index a peak not reported yet can have, when the next
     * value fed will be at index \p next.
     */
    uint64_t pending_bound(uint64_t next) const
    {
        if (d_open)
            return d_start;
        return next > d_holdoff_until ? next : d_holdoff_until;
    }

    //! True while a window is open (a crossing whose peak is not final yet).
    bool open() const { return d_open; }

    /*!
     * \brief End of stream: close the open window early.
     * \return true and the best peak so far in \p out if a window was open
     */
    bool flush(peak& out);

    //! Forget the state (idle, no holdoff).
    void reset();

private:
    const size_t d_window;
    const size_t d_holdoff;
    float d_threshold;
    bool d_open = false;
    uint64_t d_start = 0;
    uint64_t d_end = 0; // exclusive
    uint64_t d_holdoff_until = 0;
    peak d_best;
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_PEAK_PICKER_H */
