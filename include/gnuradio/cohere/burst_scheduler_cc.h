/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_BURST_SCHEDULER_CC_H
#define INCLUDED_COHERE_BURST_SCHEDULER_CC_H

#include <gnuradio/block.h>
#include <gnuradio/cohere/api.h>
#include <string>
#include <vector>

namespace gr {
namespace cohere {

/*!
 * \brief Deterministic RX-to-TX turnaround: the software twin of FPGA trigger timers.
 * \ingroup cohere
 *
 * \details
 * <b>Indices.</b> The input is the node's RX stream: input item n is RX
 * index n (the node's clock; the first item read is n = 0). The output is the
 * node's TX stream: output item k is TX index k, and TX index k leaves the
 * antenna when RX index k + \p latency (L) arrives (the time model of every
 * radio family). The block is one for one with a lookahead of D =
 * \p lookahead samples: it first emits TX indices 0 .. D-1 without reading,
 * then emits TX index n + D when it consumes RX index n. Everything the block
 * learns at RX index n (stream tags at n, and the decision awaited there)
 * is acted on before TX index n + D is produced, so a decision taken from RX
 * sample n can place samples at TX index n + D or later, never earlier, and
 * the result does not depend on how the scheduler cuts the streams.
 *
 * <b>Bursts.</b> A burst meant to be on the air at RX time T is written at
 * TX index T - L. It is feasible when T - L is not yet produced:
 * - triggered at RX index n (a `sync_peak` tag or a decision at a
 *   `response_pending` tag at n): T >= n + D + L. D + L is the minimum
 *   turnaround; an echo at `round(index) + echo_offset` detected by a tag at
 *   RX index m needs echo_offset >= D + L + (m - round(index)), the last term
 *   being the detector's delay. The constructor and set_echo() refuse
 *   echo_offset < D + L (every echo would be late).
 * - asynchronous (`burst` port): T - L >= the first TX index not yet produced
 *   when the message is handled, which is at most D + (RX samples read)
 *   ahead. Whether such a burst is late depends on thread timing: for
 *   deterministic responses, announce them with `response_pending`.
 * A late burst is dropped whole (never shifted or cut), counted
 * (late_count()), reported on port `late` and logged at most once per second.
 * Pending bursts are kept sorted by start (arrival order may be anything);
 * overlapping bursts add, in start order.
 *
 * With the over-the-air emulator, D must exceed the link delays to the other
 * nodes plus 16 samples (the interpolator margin, see docs/emulator.md); the
 * pipeline advances about D samples per trip through the node threads, so
 * larger D simulates faster.
 *
 * Message ports (in):
 * - `burst`: PDU, pair (meta dict, c32vector samples). meta: `time` (uint64,
 *   on-air RX time T), optional `phase` (rad) and `gain` (real or complex):
 *   the samples are sent times gain exp(j phase).
 * - `decision`: dict with `event` (the id of a `response_pending` tag) and
 *   either `burst` (a PDU as above) or `none` (any value). Decisions may
 *   arrive before their tag; at most \p max_pending are kept. A decision whose
 *   burst is malformed counts as `none` (logged).
 * - `echo`: dict with any of `waveform` (c32vector), `offset` (long),
 *   `preamble` (long, -1 = any), `mode` (symbol or string: plus, minus,
 *   fixed), `phase` (double): merged into the echo configuration (see
 *   set_echo(); an invalid result is logged and dropped).
 *
 * Message port (out): `late`, a dict per dropped burst: `time` (uint64, T),
 * `tx_index` (long, T - L), `frontier` (uint64, first TX index still
 * writable when it was handled), `reason` (string: "late", "queue full"),
 * `source` (string: "burst", "decision", "echo").
 *
 * Stream tags consumed (RX):
 * - `sync_peak`: dict with `index` (double, fractional RX index of the peak),
 *   `phase` (double, rad), `preamble` (long). When an echo waveform is
 *   configured and the preamble matches, the waveform is scheduled at
 *   T = round(index) + echo_offset, rotated by exp(j phase) (mode plus),
 *   exp(-j phase) (minus) or exp(j echo_phase) (fixed). Malformed tags are
 *   logged and ignored.
 * - `response_pending`: dict with `event` (any PMT, compared with
 *   pmt::equal). The block stops at that RX index (having produced TX up to
 *   n + D - 1) until the decision for that event has arrived on `decision`,
 *   then applies it and goes on. While stalled, work() returns within a few
 *   milliseconds so the flowgraph can stop; a decision that never comes
 *   stalls the node (and, through the emulator, the nodes that hear it).
 *
 * Stream tags produced (TX, UHD semantics): `tx_sob` (PMT_T) and `tx_time`
 * (tuple: uint64 full seconds, double fractional seconds of
 * tx_time_offset + k / samp_rate) on the first sample k of every transmitted
 * segment, `tx_eob` (PMT_T) on its last sample. A segment is a run of TX
 * samples covered by bursts; overlapping bursts, and bursts that touch
 * (one starts right after the other ends) when both are known before the
 * first ends, form one segment. Input tags are not propagated.
 *
 * \param samp_rate sample rate in Hz (> 0), for `tx_time`
 * \param lookahead D >= 1
 * \param latency L >= 0 (the radio's TX-to-RX latency in samples)
 * \param max_pending >= 1: pending bursts, and stored early decisions
 * \param echo_waveform the echo's samples (empty: no echo); finite values
 * \param echo_offset samples from round(index) to the echo's on-air time;
 *        >= lookahead + latency when echo_waveform is not empty
 * \param echo_preamble preamble id that triggers the echo (-1: any)
 * \param echo_phase_mode "plus", "minus" or "fixed"
 * \param echo_phase rotation (rad) in mode fixed; finite
 *
 * \throws std::invalid_argument naming the argument for any value outside
 *         these ranges.
 */
class COHERE_API burst_scheduler_cc : virtual public gr::block
{
public:
    typedef std::shared_ptr<burst_scheduler_cc> sptr;

    static sptr make(double samp_rate,
                     int lookahead,
                     int latency = 0,
                     int max_pending = 256,
                     const std::vector<gr_complex>& echo_waveform = std::vector<gr_complex>(),
                     int64_t echo_offset = 0,
                     int64_t echo_preamble = -1,
                     const std::string& echo_phase_mode = "plus",
                     double echo_phase = 0.0);

    /*!
     * \brief Replace the echo configuration (applies to `sync_peak` tags not yet processed).
     * \throws std::invalid_argument for the same conditions as the constructor.
     */
    virtual void set_echo(const std::vector<gr_complex>& waveform,
                          int64_t offset,
                          int64_t preamble = -1,
                          const std::string& phase_mode = "plus",
                          double phase = 0.0) = 0;
    virtual std::vector<gr_complex> echo_waveform() const = 0;
    virtual int64_t echo_offset() const = 0;
    virtual int64_t echo_preamble() const = 0;
    virtual std::string echo_phase_mode() const = 0;
    virtual double echo_phase() const = 0;

    //! tx_time of TX index k is offset + k / samp_rate (default (0, 0.0)).
    virtual void set_tx_time_offset(uint64_t full_secs, double frac_secs) = 0;

    virtual double samp_rate() const = 0;
    virtual int lookahead() const = 0;
    virtual int latency() const = 0;
    virtual int max_pending() const = 0;

    //! Bursts dropped because their first TX sample was already produced.
    virtual uint64_t late_count() const = 0;
    //! Bursts and messages dropped for other reasons (malformed, queue full).
    virtual uint64_t dropped_count() const = 0;
    //! Bursts accepted into the queue (messages, decisions, echoes).
    virtual uint64_t scheduled_count() const = 0;
    //! Bursts waiting to be (completely) produced.
    virtual size_t pending() const = 0;
    //! True while waiting for a decision at a `response_pending` tag.
    virtual bool stalled() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_BURST_SCHEDULER_CC_H */
