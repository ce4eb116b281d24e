/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "peak_picker.h"
#include <algorithm>
#include <stdexcept>

namespace gr {
namespace cohere {
namespace kernels {

peak_picker::peak_picker(size_t window, size_t holdoff, float threshold)
    : d_window(window), d_holdoff(holdoff), d_threshold(threshold)
{
    if (window == 0)
        throw std::invalid_argument("peak_picker: window must be >= 1, got 0");
}

size_t peak_picker::process(const float* metric, size_t n, uint64_t first, std::vector<peak>& out)
{
    size_t found = 0;
    size_t j = 0;
    while (j < n) {
        if (!d_open) {
            const uint64_t idx = first + j;
            if (idx < d_holdoff_until) {
                j += static_cast<size_t>(std::min<uint64_t>(n - j, d_holdoff_until - idx));
                continue;
            }
            const float t = d_threshold;
            while (j < n && !(metric[j] > t))
                j++;
            if (j == n)
                break;
            d_open = true;
            d_start = first + j;
            d_end = d_start + d_window;
            d_best.index = first + j;
            d_best.metric = metric[j];
            j++;
            continue;
        }
        // the window ends d_window after the latest maximum, at most 2 d_window
        // after the crossing
        const uint64_t cap = d_start + 2 * d_window;
        while (j < n && first + j < d_end) {
            if (metric[j] > d_best.metric) {
                d_best.metric = metric[j];
                d_best.index = first + j;
                d_end = std::min(d_best.index + d_window, cap);
            }
            j++;
        }
        if (first + j == d_end) {
            out.push_back(d_best);
            found++;
            d_open = false;
            d_holdoff_until = d_best.index + d_holdoff;
        }
    }
    return found;
}

bool peak_picker::flush(peak& out)
{
    if (!d_open)
        return false;
    out = d_best;
    d_open = false;
    d_holdoff_until = d_best.index + d_holdoff;
    return true;
}

void peak_picker::reset()
{
    d_open = false;
    d_start = 0;
    d_end = 0;
    d_holdoff_until = 0;
    d_best = peak();
}

} // namespace kernels
} // namespace cohere
} // namespace gr
