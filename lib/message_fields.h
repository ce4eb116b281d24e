/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_MESSAGE_FIELDS_H
#define INCLUDED_COHERE_MESSAGE_FIELDS_H

// Internal helpers shared by the actuator blocks (not installed): typed reads
// of PMT dict fields that never throw, and a once-per-interval log limiter.

#include <gnuradio/logger.h>
#include <pmt/pmt.h>
#include <atomic>
#include <cfloat>
#include <chrono>
#include <cmath>
#include <complex>
#include <cstdint>
#include <string>

namespace gr {
namespace cohere {

enum class field { absent, ok, bad };

/*!
 * True for a well-formed PMT dict (a list of key/value pairs). pmt::is_dict
 * accepts any pair (a PDU too), and pmt::dict_ref throws on some of them, so
 * untrusted messages and tag values are checked with this first.
 */
inline bool is_proper_dict(const pmt::pmt_t& x)
{
    pmt::pmt_t p = x;
    while (pmt::is_pair(p)) {
        if (!pmt::is_pair(pmt::car(p)))
            return false;
        p = pmt::cdr(p);
    }
    return pmt::is_null(p);
}

/*!
 * The value of \p key in \p dict; false when the key is absent. A key that
 * is present holds a value even when that value is the empty list (what
 * Python's None becomes): dict_ref's default alone would take such a field
 * for a missing one, and `time: None` would mean "now".
 */
inline bool dict_field(const pmt::pmt_t& dict, const pmt::pmt_t& key, pmt::pmt_t& value)
{
    // one walk of the list (dict_has_key and dict_ref would walk it twice)
    const pmt::pmt_t entry = pmt::assv(key, dict);
    if (!pmt::is_pair(entry))
        return false;
    value = pmt::cdr(entry);
    return true;
}

/*!
 * Whether the gain \p g times any unit phasor fits a complex float: each
 * part of g exp(j phase) is at most |g|, so exactly when |g| <= FLT_MAX (a
 * part within rounding above FLT_MAX in double rounds to FLT_MAX). Checking
 * g's parts alone lets 3e38 + 3e38j (|g| = 4.2e38) through.
 */
inline bool fits_complex_float(std::complex<double> g)
{
    return std::isfinite(g.real()) && std::isfinite(g.imag()) &&
           std::abs(g) <= static_cast<double>(FLT_MAX);
}

//! The value \p v as a real number (double, long or uint64), finite.
inline field real_value(const pmt::pmt_t& v, double& out)
{
    if (pmt::is_uint64(v))
        out = static_cast<double>(pmt::to_uint64(v));
    else if (pmt::is_integer(v))
        out = static_cast<double>(pmt::to_long(v));
    else if (pmt::is_real(v))
        out = pmt::to_double(v);
    else
        return field::bad;
    return std::isfinite(out) ? field::ok : field::bad;
}

//! A real number (double, long or uint64), finite.
inline field get_real(const pmt::pmt_t& dict, const pmt::pmt_t& key, double& out)
{
    pmt::pmt_t v;
    if (!dict_field(dict, key, v))
        return field::absent;
    return real_value(v, out);
}

//! A real or complex number, finite; \p is_real tells which it was.
inline field
get_number(const pmt::pmt_t& dict, const pmt::pmt_t& key, std::complex<double>& out, bool& is_real)
{
    pmt::pmt_t v;
    if (!dict_field(dict, key, v))
        return field::absent;
    if (pmt::is_complex(v)) {
        out = pmt::to_complex(v);
        is_real = false;
    } else {
        double x = 0;
        const field f = real_value(v, x);
        if (f != field::ok)
            return f;
        out = x;
        is_real = true;
    }
    return std::isfinite(out.real()) && std::isfinite(out.imag()) ? field::ok : field::bad;
}

//! A sample index: uint64, or a non-negative long.
inline field get_index(const pmt::pmt_t& dict, const pmt::pmt_t& key, uint64_t& out)
{
    pmt::pmt_t v;
    if (!dict_field(dict, key, v))
        return field::absent;
    if (pmt::is_uint64(v)) {
        out = pmt::to_uint64(v);
        return field::ok;
    }
    if (pmt::is_integer(v)) {
        const long x = pmt::to_long(v);
        if (x < 0)
            return field::bad;
        out = static_cast<uint64_t>(x);
        return field::ok;
    }
    return field::bad;
}

//! An integer (long, or uint64 below 2^63).
inline field get_integer(const pmt::pmt_t& dict, const pmt::pmt_t& key, int64_t& out)
{
    pmt::pmt_t v;
    if (!dict_field(dict, key, v))
        return field::absent;
    if (pmt::is_uint64(v)) {
        const uint64_t x = pmt::to_uint64(v);
        if (x > static_cast<uint64_t>(INT64_MAX))
            return field::bad;
        out = static_cast<int64_t>(x);
        return field::ok;
    }
    if (pmt::is_integer(v)) {
        out = pmt::to_long(v);
        return field::ok;
    }
    return field::bad;
}

//! Allows one log line per interval and counts what it suppressed meanwhile.
class log_limiter
{
public:
    explicit log_limiter(std::chrono::milliseconds interval = std::chrono::seconds(1))
        : d_interval(interval)
    {
    }
    //! True when a line may be logged now; \p suppressed = lines skipped since the last one.
    bool allow(uint64_t& suppressed)
    {
        const auto now = std::chrono::steady_clock::now();
        if (d_logged && now - d_last < d_interval) {
            d_suppressed++;
            return false;
        }
        suppressed = d_suppressed;
        d_suppressed = 0;
        d_last = now;
        d_logged = true;
        return true;
    }

private:
    const std::chrono::milliseconds d_interval;
    std::chrono::steady_clock::time_point d_last;
    bool d_logged = false;
    uint64_t d_suppressed = 0;
};

/*!
 * Counts dropped control commands and logs why: malformed ones every time,
 * repeated ones (late, queue full) at most once per second with the number
 * suppressed meanwhile. Never throws, as message handlers must not.
 */
class command_drops
{
public:
    void drop(const gr::logger_ptr& logger,
              const std::string& reason,
              const pmt::pmt_t& what,
              bool rate_limited)
    {
        d_count++;
        if (!rate_limited) {
            logger->warn("cmd dropped: {}: {}", reason, pmt::write_string(what));
            return;
        }
        uint64_t suppressed = 0;
        if (d_limit.allow(suppressed))
            logger->warn("cmd dropped: {}: {} ({} similar drops not logged in the last second)",
                         reason,
                         pmt::write_string(what),
                         suppressed);
    }
    uint64_t count() const { return d_count; }

private:
    std::atomic<uint64_t> d_count{ 0 };
    log_limiter d_limit;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_MESSAGE_FIELDS_H */
