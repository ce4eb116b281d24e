/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_VIRTUAL_RADIO_SINK_C_H
#define INCLUDED_COHERE_VIRTUAL_RADIO_SINK_C_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/cohere/channel_hub.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace cohere {

/*!
 * \brief Transmit side of one node of the over-the-air emulator.
 * \ingroup cohere
 *
 * \details
 * Input port k is what antenna k of node \p node transmits, one continuous
 * stream: input sample n is on the air at global time n (zeros between bursts
 * are the caller's, as with a continuously streaming USRP). The hub applies the
 * node's TX chain gain and oscillator. When the input ends, the node transmits
 * zeros. Once every receiver of the hub has finished, the block ends its stream
 * (WORK_DONE), so a flowgraph whose sources have a sample count ends by itself.
 * The block waits for buffer space (receivers lagging) in slices of
 * \p timeout_ms so the flowgraph can stop.
 *
 * Non-finite input samples (NaN, Inf; or so large that the transmitted value
 * overflows) are transmitted as zeros; the count is
 * logged at most once per second and available from nonfinite_count().
 * Stream tags are not interpreted (tx_sob/tx_eob/tx_time are meaningless on a
 * continuous virtual stream).
 *
 * \param hub the shared channel_hub
 * \param node node index (0 .. hub->num_nodes() - 1)
 * \param nchan number of antennas (input ports); must equal hub->num_antennas(node)
 * \param timeout_ms longest wait inside one work() call, 1..10000 ms
 *
 * \throws std::invalid_argument for an unknown node, a channel count that does
 *         not match the hub, a node that already has a sink, or a bad timeout.
 */
class COHERE_API virtual_radio_sink_c : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<virtual_radio_sink_c> sptr;

    static sptr make(channel_hub::sptr hub, int node, int nchan = 1, int timeout_ms = 50);

    virtual int node() const = 0;
    virtual channel_hub::sptr hub() const = 0;
    //! Non-finite input samples replaced by zeros so far.
    virtual uint64_t nonfinite_count() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_VIRTUAL_RADIO_SINK_C_H */
