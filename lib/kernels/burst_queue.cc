/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "burst_queue.h"
#include "vector_ops.h"
#include <algorithm>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {
namespace kernels {

burst_queue::burst_queue(size_t capacity) : d_capacity(capacity)
{
    if (capacity < 1)
        throw std::invalid_argument("burst_queue: capacity must be >= 1, got " +
                                    std::to_string(capacity));
    d_bursts.reserve(capacity);
}

burst_queue::result burst_queue::push(uint64_t start, samples_ptr samples, gr_complex gain)
{
    if (!samples || samples->empty())
        return result::empty;
    if (start < d_next)
        return result::late;
    if (d_bursts.size() >= d_capacity)
        return result::full;
    burst b{ start, start + samples->size(), std::move(samples), gain };
    const auto pos = std::upper_bound(
        d_bursts.begin(), d_bursts.end(), start, [](uint64_t s, const burst& x) {
            return s < x.start;
        });
    d_bursts.insert(pos, std::move(b));
    return result::accepted;
}

void burst_queue::mix(gr_complex* out, size_t n, std::vector<edge>& edges)
{
    if (n == 0)
        return;
    const uint64_t w0 = d_next;
    const uint64_t w1 = d_next + n;
    std::memset(static_cast<void*>(out), 0, n * sizeof(gr_complex));

    // samples: every burst starting before the window end (sorted by start)
    for (size_t i = 0; i < d_bursts.size() && d_bursts[i].start < w1; i++) {
        const burst& b = d_bursts[i];
        const uint64_t lo = std::max(b.start, w0);
        const uint64_t hi = std::min(b.end, w1);
        if (lo < hi)
            cmac(out + (lo - w0), b.samples->data() + (lo - b.start), b.gain, hi - lo);
    }

    // segment edges
    size_t j = 0;
    while (true) {
        if (d_in_segment) {
            // every pending burst that overlaps or touches the segment joins it
            while (j < d_bursts.size() && d_bursts[j].start <= d_segment_end) {
                d_segment_end = std::max(d_segment_end, d_bursts[j].end);
                j++;
            }
            if (d_segment_end > w1)
                break; // the segment goes on past this window
            edges.push_back(edge{ d_segment_end - 1, false });
            d_in_segment = false;
        } else {
            if (j >= d_bursts.size() || d_bursts[j].start >= w1)
                break;
            edges.push_back(edge{ d_bursts[j].start, true });
            d_in_segment = true;
            d_segment_end = d_bursts[j].end;
            j++;
        }
    }

    // bursts completely produced
    d_bursts.erase(std::remove_if(d_bursts.begin(),
                                  d_bursts.end(),
                                  [w1](const burst& b) { return b.end <= w1; }),
                   d_bursts.end());
    d_next = w1;
}

} // namespace kernels
} // namespace cohere
} // namespace gr
