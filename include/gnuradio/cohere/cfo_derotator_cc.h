/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_CFO_DEROTATOR_CC_H
#define INCLUDED_COHERE_CFO_DEROTATOR_CC_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace cohere {

/*!
 * \brief Removes a carrier frequency offset with a phase-continuous NCO.
 * \ingroup cohere
 *
 * \details
 * Output sample n (n = absolute input sample index, from 0):
 *
 *   y[n] = x[n] exp(-j theta[n]),   theta[n+1] = theta[n] + 2 pi cfo / samp_rate
 *
 * with theta[0] = 0. Sign convention: \p cfo is the frequency offset of the
 * received signal; a signal received with a CFO of +f Hz,
 * x[n] = s[n] exp(+j (2 pi f n / fs + phi)), comes out as s[n] with cfo = f
 * (and theta = phi at the sample where phi is measured).
 *
 * A retune at sample t (message, tag or setter) sets the frequency used from
 * t on; the phase stays continuous unless the retune gives one, in which case
 * theta[t] = that phase. theta is evaluated in closed form in double
 * precision from the last retune (no accumulation, no drift over 1e9 samples
 * or more); the output is computed in blocks with a precomputed phasor table
 * (phase error < 3.5e-7 rad at any sample, see kernels/nco.h). The output
 * is a function of the sample index and the retunes only, never of how the
 * scheduler cuts the stream.
 *
 * Message port `cmd` (in): PMT dict
 * - `cfo` (double, Hz): new frequency
 * - `phase` (double, rad): theta at the application sample
 * - `time` (uint64): absolute input sample index at which to apply; without
 *   it, the command applies at the next sample processed.
 * At least one of `cfo` and `phase` is required. Messages that are not a
 * dict, have fields of the wrong type, non-finite values, no `cfo`/`phase`,
 * or a `time` already processed, are logged with the reason and dropped
 * (commands_dropped()); at most 1024 commands are pending. Commands without
 * `time` (and set_cfo() calls) that wait for the next sample fold into one,
 * the later fields overwriting the earlier: any number of them keep the
 * latest values.
 *
 * Stream tag consumed (when \p use_tags): `sync_peak`, a dict with optional
 * `cfo` (Hz), `phase` (rad, the received phase at the fractional sample
 * `phase_at`, or `index` without it), `phase_at` and `index` (double). At
 * the tag's sample m the block applies cfo (without one: its current
 * frequency) and theta[m] = phase + 2 pi cfo (m - phase_at) / samp_rate, so
 * that the derotated preamble has phase zero there (without `phase_at` and
 * `index`, theta[m] = phase). preamble_detector_cc gives `phase_at` =
 * `index` for periodic preambles (their CFO is measured and removed) and
 * the preamble's energy centroid for the others (about the middle: a
 * correlation's angle under a frequency offset is the phase there).
 * Tags without a usable `cfo` or `phase` are ignored.
 * When a message and a tag apply at the same sample, the tag is applied last.
 *
 * Stream tag produced: `cfo_applied` on the output sample where a retune
 * took effect, a dict `cfo` (double, Hz), `phase` (double, theta at that
 * sample, wrapped to [-pi, pi)), `time` (uint64, the sample index).
 *
 * NaN/Inf input samples give NaN/Inf output samples only: the NCO state
 * never depends on the samples.
 *
 * \param samp_rate sample rate in Hz (> 0)
 * \param cfo initial frequency offset to remove, Hz (finite)
 * \param use_tags apply `sync_peak` tags
 *
 * \throws std::invalid_argument naming the argument for a non-positive or
 *         non-finite samp_rate, a non-finite cfo, or a cfo whose phase step
 *         2 pi cfo / samp_rate overflows (naming both).
 */
class COHERE_API cfo_derotator_cc : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<cfo_derotator_cc> sptr;

    static sptr make(double samp_rate, double cfo = 0.0, bool use_tags = false);

    /*!
     * \brief Retune to \p cfo (Hz) at the next sample processed, phase
     * continuous (tagged like a message). \throws std::invalid_argument if not finite.
     */
    virtual void set_cfo(double cfo) = 0;
    //! The frequency in effect (Hz).
    virtual double cfo() const = 0;
    //! theta of the next sample to be processed (rad, wrapped).
    virtual double phase() const = 0;
    virtual void set_use_tags(bool use_tags) = 0;
    virtual bool use_tags() const = 0;
    virtual double samp_rate() const = 0;
    //! Retunes applied so far (messages, tags and setter calls).
    virtual uint64_t commands_applied() const = 0;
    //! Messages and tags dropped so far (malformed, late, queue full).
    virtual uint64_t commands_dropped() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_CFO_DEROTATOR_CC_H */
