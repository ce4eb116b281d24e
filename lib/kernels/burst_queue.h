/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_BURST_QUEUE_H
#define INCLUDED_COHERE_KERNELS_BURST_QUEUE_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief Pending transmit bursts, mixed into a continuous TX stream.
 *
 * The queue owns the TX timeline: next_index() is the first TX sample not yet
 * produced (the frontier). A burst is (start, samples, gain): it adds
 * gain * samples[i] at TX index start + i. Bursts are kept sorted by start
 * (ties in arrival order) and overlapping bursts add, in that order, so the
 * output is a pure function of the accepted bursts.
 *
 * push() refuses, without storing anything:
 * - a burst whose start is before the frontier (late: its first sample is
 *   already produced; a late burst is never shifted or cut),
 * - an empty burst, or any burst when \p capacity bursts are pending.
 *
 * mix() writes the next n TX samples (zeros plus every burst overlapping
 * them) and reports the edges of the transmitted segments: a segment is a
 * maximal run of TX samples covered by bursts, where bursts that overlap or
 * touch (one starts right after another ends) and are both pending when the
 * first of them ends form one segment. Edges are what a UHD sink needs:
 * start (tx_sob + tx_time) on the first sample, end (tx_eob) on the last.
 *
 * Storage for \p capacity bursts and 2 capacity + 2 edges per call is
 * reserved at construction: push() and mix() do not allocate (samples are
 * shared, never copied).
 */
class COHERE_API burst_queue
{
public:
    enum class result { accepted, late, full, empty };

    struct edge {
        uint64_t index; //!< absolute TX index
        bool start;     //!< true: first sample of a segment; false: last sample
    };

    typedef std::shared_ptr<const std::vector<gr_complex>> samples_ptr;

    //! \throws std::invalid_argument if capacity < 1
    explicit burst_queue(size_t capacity);

    size_t capacity() const { return d_capacity; }
    //! Bursts accepted and not yet completely produced.
    size_t size() const { return d_bursts.size(); }
    //! First TX index not yet produced.
    uint64_t next_index() const { return d_next; }

    //! Queue a burst starting at TX index \p start (see class description).
    result push(uint64_t start, samples_ptr samples, gr_complex gain);

    /*!
     * \brief Produce TX samples [next_index(), next_index() + n) into out.
     * Appends the segment edges inside that range (in index order) to
     * \p edges, which the caller clears.
     */
    void mix(gr_complex* out, size_t n, std::vector<edge>& edges);

private:
    struct burst {
        uint64_t start;
        uint64_t end; // exclusive
        samples_ptr samples;
        gr_complex gain;
    };

    const size_t d_capacity;
    std::vector<burst> d_bursts; // sorted by start
    uint64_t d_next = 0;
    bool d_in_segment = false;
    uint64_t d_segment_end = 0; // exclusive, valid while in a segment
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_BURST_QUEUE_H */
