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
 *   being the detector's delay. The constructor, set_echo() and the `echo`
 *   message refuse a relative offset < D + L (every echo would be late); an
 *   absolute echo time is checked when a tag triggers it.
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
 * larger D simulates faster. Any block between the RX and this block that
 * holds samples back adds its delay: with a preamble_detector_cc in the
 * loop, D must exceed its max_delay() as well, or the loop stalls at its
 * start with nothing logged (the scheduler waits for RX that the detector
 * releases only after more TX; an audit: max_delay() 2568, D up to 2040
 * froze, D = max_delay() + 1 ran). pcp_node checks it.
 *
 * Message ports (in):
 * - `burst`: PDU, pair (meta dict, c32vector samples). meta: `time` (uint64,
 *   on-air RX time T), optional `phase` (rad) and `gain` (real or complex):
 *   the samples are sent times gain exp(j phase).
 * - `decision`: dict with `event` (the id of a `response_pending` tag) and
 *   either `burst` (a PDU as above) or `none` (any value). Decisions may
 *   arrive before their tag; at most \p max_pending are kept. A decision whose
 *   burst is malformed counts as `none` (logged).
 * - `echo`: dict that edits one entry of the echo table: `preamble` (long,
 *   >= -1) selects it (default: echo_preamble(), the entry of the constructor
 *   or of the last set_echo()); `clear` (any value) removes it, all other
 *   fields ignored. Otherwise the fields present are merged into the entry
 *   (a new entry starts from no waveform, relative mode with offset 0, mode
 *   plus, phase 0, gain 1, amp_scale 0, once false): `waveform` (c32vector,
 *   finite; empty removes the entry), `offset` (long: relative mode),
 *   `time` (uint64 <= 2^62, on-air RX time T: absolute mode), `mode`
 *   (symbol: plus, minus, fixed), `phase` (double, rad, for fixed), `gain`
 *   (real or complex, finite), `amp_scale` (real, finite, >= 0), `once`
 *   (bool). A message with both `offset` and `time`, a field of the wrong
 *   type, or a merged entry that is invalid (no waveform, offset below
 *   lookahead + latency, ...) is logged and dropped without changing
 *   anything.
 *
 * <b>Echo table</b> (no Python in the loop). Entries are keyed by preamble
 * id; entry -1 serves every preamble without an entry of its own. An entry
 * holds a waveform w (non-empty), a timing (relative: T = round(index) +
 * offset, offset >= lookahead + latency; absolute: T = time), a rotation
 * mode (plus: rot = tag phase, minus: rot = -tag phase, fixed: rot = phase),
 * a gain g, amp_scale a >= 0 and a once flag. A `sync_peak` tag that
 * triggers the entry schedules the burst
 *   w * g * (a * tag amp, when a > 0) * exp(j rot)   at on-air time T,
 * the factor computed in double and rounded to complex float once; the
 * samples of w are shared, not copied. An absolute time that is no longer
 * feasible when the tag arrives makes the burst late (see <b>Bursts</b>;
 * `source` "echo"). A once entry is removed when a tag triggers it, whether
 * its burst was scheduled or late (not by a malformed tag). Changes (setters,
 * messages) apply to the `sync_peak` tags processed after them.
 *
 * Message port (out): `late`, a dict per dropped burst: `time` (uint64, T),
 * `tx_index` (long, T - L), `frontier` (uint64, first TX index still
 * writable when it was handled), `reason` (string: "late", "queue full"),
 * `source` (string: "burst", "decision", "echo").
 *
 * Stream tags consumed (RX):
 * - `sync_peak`: dict with `index` (double, fractional RX index of the peak),
 *   `phase` (double, rad), `preamble` (long), `amp` (double; needed only by
 *   echo entries with amp_scale > 0). The tag triggers the echo table entry
 *   of its preamble, or entry -1 when its preamble has none (or the tag has
 *   no `preamble`); see <b>Echo table</b>. Malformed tags (not a dict, a
 *   `preamble` that is not an integer, no
 *   finite non-negative `index`, no finite `phase` for an entry in mode plus
 *   or minus, no finite `amp` for an entry with amp_scale > 0) are logged and
 *   trigger nothing; when the table is empty the tags are not looked at.
 * - `echo`: the dict of an `echo` message, applied to the echo table in
 *   stream order: before the `sync_peak` tags of the same RX index, and
 *   never late (a message posted by an upstream block in the same work()
 *   call as the tagged sample may be handled after that sample).
 * - `burst`: a PDU as on the `burst` port, scheduled when the block reaches
 *   the tagged RX index m (never late for a target time T >= m + D + L): the
 *   deterministic way for an upstream block to send a burst it decided at m.
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
 * \param max_pending 1..1048576: pending bursts, and stored early decisions
 * \param echo_waveform the samples of the initial echo table entry (empty:
 *        the table starts empty); finite values
 * \param echo_offset samples from round(index) to the echo's on-air time;
 *        >= lookahead + latency when echo_waveform is not empty
 * \param echo_preamble preamble id of that entry (-1: any preamble without
 *        an entry of its own); also the initial echo_preamble()
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
     * \brief Replace the echo table entry of \p preamble (or remove it when
     *        \p waveform is empty) and make \p preamble the default entry.
     *
     * The new entry is in relative mode with gain 1, amp_scale 0 and once
     * false (the other fields are set with the `echo` message). After the
     * call, echo_preamble() returns \p preamble: the getters without an
     * argument and `echo` messages without `preamble` refer to this entry.
     * \throws std::invalid_argument for the same conditions as the
     *         constructor; nothing changes then.
     */
    virtual void set_echo(const std::vector<gr_complex>& waveform,
                          int64_t offset,
                          int64_t preamble = -1,
                          const std::string& phase_mode = "plus",
                          double phase = 0.0) = 0;
    //! Remove the entry of \p preamble (no effect when there is none).
    virtual void clear_echo(int64_t preamble) = 0;
    //! The preamble ids that have an entry, ascending (-1 first when present).
    virtual std::vector<int64_t> echo_preambles() const = 0;

    //! The default entry's preamble id: echo_preamble at construction, then
    //! the \p preamble of the last set_echo() call.
    virtual int64_t echo_preamble() const = 0;
    //! The default entry's fields (as the overloads below for echo_preamble()).
    virtual std::vector<gr_complex> echo_waveform() const = 0;
    virtual int64_t echo_offset() const = 0;
    virtual std::string echo_phase_mode() const = 0;
    virtual double echo_phase() const = 0;

    //! \name Fields of the entry of \p preamble
    //! Without such an entry they return the defaults of a new entry (an
    //! empty waveform, offset 0, time -1, "plus", 0, 1, 0, false).
    //! @{
    virtual std::vector<gr_complex> echo_waveform(int64_t preamble) const = 0;
    //! Relative mode: samples from round(index) to the on-air time (0 in absolute mode).
    virtual int64_t echo_offset(int64_t preamble) const = 0;
    //! Absolute mode: the on-air RX time T; -1 in relative mode.
    virtual int64_t echo_time(int64_t preamble) const = 0;
    virtual std::string echo_phase_mode(int64_t preamble) const = 0;
    virtual double echo_phase(int64_t preamble) const = 0;
    virtual gr_complexd echo_gain(int64_t preamble) const = 0;
    virtual double echo_amp_scale(int64_t preamble) const = 0;
    virtual bool echo_once(int64_t preamble) const = 0;
    //! @}

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
