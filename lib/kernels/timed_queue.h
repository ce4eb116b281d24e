/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_TIMED_QUEUE_H
#define INCLUDED_COHERE_KERNELS_TIMED_QUEUE_H

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <stdexcept>
#include <string>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief Bounded queue of commands due at absolute sample indices.
 *
 * Each entry is either timed (due at sample \c time) or immediate (due at the
 * next sample processed). Immediate entries come first, in arrival order;
 * timed entries follow sorted by time, ties in arrival order. Storage is
 * reserved at construction: push() and pop() never allocate, so an actuator
 * can pop commands inside work() and push them from a message handler.
 *
 * Typical use in work() for the window [start, end):
 * \code
 *   q.drop_late(start, on_late);          // timed entries already past
 *   uint64_t due;
 *   while (q.next_due(pos, due) && due < end) { ...process [pos, due)...; q.pop(); }
 * \endcode
 */
template <typename T>
class timed_queue
{
public:
    struct entry {
        uint64_t time;  // due sample (timed entries)
        bool immediate; // due at the next processed sample
        T value;
    };

    explicit timed_queue(size_t capacity) : d_capacity(capacity)
    {
        if (capacity < 1)
            throw std::invalid_argument("timed_queue: capacity must be >= 1, got " +
                                        std::to_string(capacity));
        d_entries.reserve(capacity);
    }

    size_t capacity() const { return d_capacity; }
    size_t size() const { return d_entries.size(); }
    bool empty() const { return d_entries.empty(); }
    bool full() const { return d_entries.size() >= d_capacity; }

    //! Add a timed entry. Returns false (and stores nothing) when full.
    bool push(uint64_t time, const T& value) { return insert(entry{ time, false, value }); }
    //! Add an entry due at the next processed sample. False when full.
    bool push_immediate(const T& value) { return insert(entry{ 0, true, value }); }

    /*!
     * \brief Add an entry due at the next processed sample, or fold it into
     * the last immediate entry with merge(last, value) when there is one.
     *
     * All immediate entries fall due together, so for commands where applying
     * two in a row equals applying their merge (fields overwritten), folding
     * keeps the result and never fills the queue: a setter called at any
     * rate while no sample is processed keeps its latest value. False when a
     * new entry was needed and the queue is full.
     */
    template <typename M>
    bool push_immediate(const T& value, M&& merge)
    {
        const auto first_timed = std::find_if(
            d_entries.begin(), d_entries.end(), [](const entry& e) { return !e.immediate; });
        if (first_timed != d_entries.begin()) {
            merge(std::prev(first_timed)->value, value);
            return true;
        }
        return push_immediate(value);
    }

    /*!
     * \brief Remove the timed entries due before \p pos (they can no longer be
     * applied at their sample); calls on_late(entry) for each, in time order.
     * \return how many were removed
     */
    template <typename F>
    size_t drop_late(uint64_t pos, F&& on_late)
    {
        const auto first_timed = std::find_if(
            d_entries.begin(), d_entries.end(), [](const entry& e) { return !e.immediate; });
        auto last = first_timed;
        while (last != d_entries.end() && last->time < pos) {
            on_late(*last);
            ++last;
        }
        const size_t n = static_cast<size_t>(last - first_timed);
        d_entries.erase(first_timed, last);
        return n;
    }

    /*!
     * \brief Sample at which the first entry is due, given that \p pos is the
     * next sample to be processed (an immediate entry is due at pos; a timed
     * one at max(time, pos)). False when empty.
     */
    bool next_due(uint64_t pos, uint64_t& due) const
    {
        if (d_entries.empty())
            return false;
        const entry& e = d_entries.front();
        due = e.immediate ? pos : std::max(e.time, pos);
        return true;
    }

    const entry& front() const { return d_entries.front(); }
    //! Remove and return the first entry (the queue must not be empty).
    T pop()
    {
        T v = d_entries.front().value;
        d_entries.erase(d_entries.begin());
        return v;
    }
    void clear() { d_entries.clear(); }

private:
    bool insert(const entry& e)
    {
        if (full())
            return false;
        // after every entry that is due no later than e (stable for ties)
        auto pos = std::upper_bound(
            d_entries.begin(), d_entries.end(), e, [](const entry& a, const entry& b) {
                if (a.immediate != b.immediate)
                    return a.immediate;
                return !a.immediate && a.time < b.time;
            });
        d_entries.insert(pos, e);
        return true;
    }

    const size_t d_capacity;
    std::vector<entry> d_entries;
};

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_TIMED_QUEUE_H */
