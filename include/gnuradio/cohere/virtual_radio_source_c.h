/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_VIRTUAL_RADIO_SOURCE_C_H
#define INCLUDED_COHERE_VIRTUAL_RADIO_SOURCE_C_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/cohere/channel_hub.h>
#include <gnuradio/sync_block.h>

namespace gr {
namespace cohere {

/*!
 * \brief Receive side of one node of the over-the-air emulator.
 * \ingroup cohere
 *
 * \details
 * Output port k carries what antenna k of node \p node receives: the sum of
 * every node's transmission through its link, with this node's RX oscillator,
 * RX chain gain and noise (see channel_hub). Output sample n is the signal
 * arriving at global time n; the block waits until every transmitter's samples
 * up to that time are in (inside work(), in slices of \p timeout_ms, between
 * which it checks whether the flowgraph is stopping).
 *
 * Stream tags (on every port, at offset 0, UHD conventions):
 * - `rx_time`: tuple (uint64 full seconds, double fractional seconds) = (0, 0.0)
 * - `rx_rate`: double, the hub's sample rate
 * - `rx_freq`: double, the hub's carrier frequency
 *
 * \param hub the shared channel_hub
 * \param node node index (0 .. hub->num_nodes() - 1)
 * \param nchan number of antennas (output ports); must equal hub->num_antennas(node)
 * \param nsamples stop (WORK_DONE) after this many samples; 0 runs until stopped
 * \param timeout_ms one slice of the wait for samples, 1..10000 ms (a stop is
 *        seen within one slice)
 *
 * \throws std::invalid_argument for an unknown node, a channel count that does
 *         not match the hub, a node that already has a source, or a bad timeout.
 */
class COHERE_API virtual_radio_source_c : virtual public gr::sync_block
{
public:
    typedef std::shared_ptr<virtual_radio_source_c> sptr;

    static sptr make(channel_hub::sptr hub,
                     int node,
                     int nchan = 1,
                     uint64_t nsamples = 0,
                     int timeout_ms = 50);

    virtual int node() const = 0;
    virtual channel_hub::sptr hub() const = 0;
    //! Samples produced so far.
    virtual uint64_t nproduced() const = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_VIRTUAL_RADIO_SOURCE_C_H */
