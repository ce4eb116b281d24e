/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_PHASE_PRECODER_CC_H
#define INCLUDED_COHERE_PHASE_PRECODER_CC_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace cohere {

/*!
 * \brief Phase-coded-pilot precoder: multiplies the stream by g exp(j theta).
 * \ingroup cohere
 *
 * \details
 * y[n] = c x[n] with c = gain exp(j phase), rounded once to complex float
 * (so a change of phase or gain lands bit-exactly on its sample and the
 * product is the same as multiplying by that constant anywhere else).
 * n is the absolute input sample index, from 0.
 *
 * Message port `cmd` (in): PMT dict
 * - `phase` (double, rad) and/or `gain` (real, or complex)
 * - `time` (uint64): absolute input sample index at which to apply; without
 *   it, the command applies at the next sample processed.
 * A field that is absent keeps its value. Messages that are not a dict, have
 * fields of the wrong type, non-finite values, a `gain` of magnitude above
 * FLT_MAX (3.4e38: c is complex float), neither `phase` nor `gain`, or
 * a `time` already processed, are logged with the reason and dropped
 * (commands_dropped()); at most 1024 timed messages are pending (tags do
 * not count: any number of them apply). Commands without `time` (and setter
 * calls) that wait for the next sample fold into one, the later fields
 * overwriting the earlier: any number of them keep the latest values.
 *
 * Stream tag consumed: `phase_cmd` on an input sample, a dict with `phase`
 * and/or `gain` as above, applies at exactly that sample. Being in band, it
 * can never arrive late, whatever the thread timing: the way for an upstream
 * block to command the precoder deterministically. Malformed ones are logged
 * and dropped like messages.
 *
 * Stream tag produced: `phase_applied` on the output sample where a change
 * took effect, a dict `phase` (double, rad), `gain` (double when real,
 * complex otherwise) and `time` (uint64, the sample index). Several changes
 * at one sample give one tag with the final values. Input tags propagate.
 *
 * NaN/Inf input samples give NaN/Inf output samples only.
 *
 * \param phase initial phase theta (rad, finite)
 * \param gain initial gain g (complex, finite, |g| <= FLT_MAX)
 *
 * \throws std::invalid_argument naming the argument for non-finite values.
 */
class COHERE_API phase_precoder_cc : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<phase_precoder_cc> sptr;

    static sptr make(double phase = 0.0, gr_complex gain = gr_complex(1.0f, 0.0f));

    /*!
     * \brief New phase from the next sample processed (tagged like a message).
     * \throws std::invalid_argument if not finite.
     */
    virtual void set_phase(double phase) = 0;
    /*!
     * \brief New gain from the next sample processed (tagged like a message).
     * \throws std::invalid_argument if not finite.
     */
    virtual void set_gain(gr_complex gain) = 0;
    //! Phase in effect (rad).
    virtual double phase() const = 0;
    //! Gain in effect.
    virtual gr_complex gain() const = 0;
    //! Changes applied so far (messages, setter calls and `phase_cmd` tags).
    virtual uint64_t commands_applied() const = 0;
    //! Messages and `phase_cmd` tags dropped so far (malformed, late, queue full).
    virtual uint64_t commands_dropped() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_PHASE_PRECODER_CC_H */
