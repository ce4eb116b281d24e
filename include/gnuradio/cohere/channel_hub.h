/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_CHANNEL_HUB_H
#define INCLUDED_COHERE_CHANNEL_HUB_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/gr_complex.h>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gr {
namespace cohere {

/*!
 * \brief The over-the-air emulator of a whole multi-node testbed.
 * \ingroup cohere
 *
 * \details
 * One hub is shared by one virtual_radio_sink_c (TX) and one
 * virtual_radio_source_c (RX) per node, all in one flowgraph. Sinks and sources
 * are not stream-connected to each other, so the flowgraph has no loop; the hub
 * couples them and blocks a source until every transmitter's samples covering
 * its span are in.
 *
 * <b>Time.</b> TX sample n of every node is on the air at global time n; RX
 * sample n of node j is what arrives at time n. A node without a TX sink
 * transmits zeros; after a sink's input ends, it transmits zeros.
 *
 * <b>Signal model</b> (node i, antenna a -> node j, antenna b):
 * \code
 *   s_ia[n]  = t_ia * x_ia[n] * exp(+j phi_i[n])                (TX chain, TX LO)
 *   y_jb[n]  = r_jb * exp(-j phi_j[n]) * sum_i sum_a A_ji[b,a] * (h_ij * s_ia)[n]
 *              * exp(j psi_ij[n]) + w_jb[n]
 * \endcode
 * phi_i is node i's oscillator (ppm offset and Wiener phase noise, one
 * oscillator for TX and RX), t and r the non-reciprocal TX and RX chain gains,
 * A_ji the reciprocal air gain (A_ij = A_ji^T), h_ij the link's delay and
 * multipath FIR (the same both ways), psi_ij the mobility phase
 * 2 pi (v_i cos a_i + v_j cos a_j) n / (fs lambda) and w AWGN of the configured
 * power at each receive antenna.
 *
 * <b>Air gain.</b> An explicit set_link_gain() wins. Otherwise, with positions,
 * 10^(-PL/20) * exp(-j 2 pi fc d / c) * g_small, PL = ref_loss_db + 10 n
 * log10(d / d0) + shadowing, g_small = 1 or CN(0, 1) per antenna pair
 * (Rayleigh). Without positions every link has unit gain. A node does not hear
 * itself unless a self link (i, i) is set (loopback or leakage path).
 *
 * <b>Half duplex.</b> When enabled, while a node transmits (any antenna's
 * on-air sample non-zero) its receiver sees only its own signal attenuated by
 * the leakage level (-inf dB: nothing), plus its noise.
 *
 * <b>Determinism.</b> Every stochastic component draws from its own stream
 * derived from the seed, consumed in sample order, so outputs are identical bit
 * for bit whatever the buffer sizes or thread timing.
 *
 * <b>Configuration</b> is allowed until streaming starts (first sample written
 * or read); afterwards setters throw std::logic_error, except retune().
 * Invalid values throw std::invalid_argument naming the field and value.
 */
class COHERE_API channel_hub
{
public:
    typedef std::shared_ptr<channel_hub> sptr;

    /*!
     * \param num_nodes number of nodes, 1..64
     * \param samp_rate common sample rate fs in Hz (> 0)
     * \param center_freq common carrier fc in Hz (> 0)
     * \param seed seed of every random draw
     * \param antennas antennas per node, each 1..8; one value applies to all
     *        nodes, otherwise one value per node
     */
    static sptr make(int num_nodes,
                     double samp_rate,
                     double center_freq,
                     uint64_t seed = 0,
                     const std::vector<int>& antennas = { 1 });
    virtual ~channel_hub() = default;

    // ----- topology (fixed at construction) ---------------------------------
    virtual int num_nodes() const = 0;
    virtual int num_antennas(int node) const = 0;
    virtual double samp_rate() const = 0;
    virtual double center_freq() const = 0;
    virtual uint64_t seed() const = 0;

    // ----- oscillators ------------------------------------------------------
    //! Oscillator offset in ppm: CFO = ppm * 1e-6 * fc (and SFO, if enabled).
    virtual void set_ppm(int node, double ppm) = 0;
    virtual double ppm(int node) const = 0;
    //! Wiener phase noise constant c (s): increment variance 4 pi^2 fc^2 c / fs
    //! (0 <= c <= fs / (pi^2 fc^2), an increment std of at most 2 rad).
    virtual void set_phase_noise(int node, double c) = 0;
    virtual double phase_noise(int node) const = 0;
    //! Initial LO phase (rad); default: uniform random from the seed.
    virtual void set_initial_phase(int node, double phase) = 0;
    virtual double initial_phase(int node) const = 0;
    /*!
     * \brief Sampling-frequency offset from the same crystal: node i's sample
     * clock runs at fs (1 + ppm_i 1e-6), modelled as a time-varying delay on
     * every link (each node's sample index n is its own clock).
     */
    virtual void set_sfo_enabled(bool enabled) = 0;
    virtual bool sfo_enabled() const = 0;

    // ----- RF chains --------------------------------------------------------
    //! Explicit TX chain gains, one per antenna.
    virtual void set_tx_gains(int node, const std::vector<gr_complex>& gains) = 0;
    //! Explicit RX chain gains, one per antenna.
    virtual void set_rx_gains(int node, const std::vector<gr_complex>& gains) = 0;
    /*!
     * \brief Spread of the randomly drawn chain gains (for antennas without
     * explicit ones): amplitude log-normal with \p amplitude_std_db, phase
     * uniform in [-phase_spread, phase_spread] rad. Default 1 dB and pi.
     */
    virtual void set_chain_gain_spread(double amplitude_std_db, double phase_spread) = 0;
    virtual std::vector<gr_complex> tx_gains(int node) const = 0;
    virtual std::vector<gr_complex> rx_gains(int node) const = 0;

    // ----- receivers ---------------------------------------------------------
    //! AWGN power (linear, per complex sample) at each receive antenna of \p node.
    virtual void set_noise_power(int node, double power) = 0;
    virtual double noise_power(int node) const = 0;
    //! Half-duplex receivers; leakage_db = -inf: a transmitting node hears nothing.
    virtual void set_half_duplex(bool enabled, double leakage_db) = 0;

    // ----- links --------------------------------------------------------------
    /*!
     * \brief Explicit air gain from \p tx to \p rx: row-major matrix of
     * num_antennas(rx) x num_antennas(tx). Also sets rx -> tx to its transpose.
     * A self link (tx == rx: loopback or leakage between a node's antennas) is
     * its own reverse, so it must be symmetric. Non-finite values raise.
     */
    virtual void set_link_gain(int tx, int rx, const std::vector<gr_complex>& gain) = 0;
    //! Propagation delay in samples (>= 0, fractional allowed), both directions.
    virtual void set_link_delay(int tx, int rx, double delay) = 0;
    /*!
     * \brief Multipath: extra paths with delays (samples after the link delay)
     * and complex gains relative to the direct path (which has gain 1), both
     * directions.
     */
    virtual void set_link_taps(int tx,
                               int rx,
                               const std::vector<double>& delays,
                               const std::vector<gr_complex>& gains) = 0;
    //! Node positions in metres (2-D); enables the path-loss model.
    virtual void set_positions(const std::vector<double>& x, const std::vector<double>& y) = 0;
    /*!
     * \brief Log-distance path loss: PL = ref_loss_db + 10 exponent log10(d / ref_distance)
     * + N(0, shadowing_db^2), the same both ways.
     */
    virtual void set_path_loss(double exponent,
                               double ref_loss_db,
                               double ref_distance,
                               double shadowing_db) = 0;
    //! Rayleigh (CN(0,1)) small-scale term per antenna pair, reciprocal.
    virtual void set_rayleigh(bool enabled) = 0;
    //! Node speed (m/s) and angle of motion relative to its links (rad).
    virtual void set_velocity(int node, double speed, double angle) = 0;
    /*!
     * \brief Radio latency L of \p node (samples, >= 0): its TX sample n
     * leaves the antenna when its RX sample n + L arrives (the time model of
     * real radios; 0 by default). Applied as an extra delay on every link
     * leaving the node, including its self (loopback/leakage) link.
     */
    virtual void set_latency(int node, int64_t samples) = 0;
    virtual int64_t latency(int node) const = 0;
    //! Ring size per antenna (samples of TX history and look-ahead),
    //! 16384..2^26, rounded up to a power of two; 32768 by default. It must
    //! exceed the longest link delay (latency included) plus the look-ahead
    //! of the nodes' schedulers.
    virtual void set_buffer_size(size_t samples) = 0;

    // ----- runtime -------------------------------------------------------------
    /*!
     * \brief Retune node \p node: its LO phase becomes a new random phase at
     * sample \p at (for both its TX and RX). Call before that sample streams:
     * a late retune (the LO already generated past \p at) is logged and takes
     * effect at the next sample the LO generates, where the ground truth also
     * records it.
     * \return the new phase (rad)
     */
    virtual double retune(int node, uint64_t at) = 0;

    // ----- ground truth -----------------------------------------------------------
    /*!
     * \brief True LO phase phi_node[n] (rad, wrapped) for n = start .. start +
     * count - 1. Replays the node's oscillator (about 2.4 ns per sample from
     * the last query's end, or from 0 when going back) without holding the
     * streams up.
     */
    virtual std::vector<double> lo_phase(int node, uint64_t start, size_t count) = 0;
    //! True LO frequency offset of \p node (Hz).
    virtual double lo_frequency(int node) const = 0;
    //! Air gain matrix tx -> rx (num_antennas(rx) x num_antennas(tx), row-major).
    virtual std::vector<gr_complex> link_gain(int tx, int rx) = 0;
    //! Delay of the direct path (samples).
    virtual double link_delay(int tx, int rx) = 0;
    /*!
     * \brief Record, for receiver \p rx_node, each transmitter's received
     * component separately (noise-free, after RX LO and chain), keeping the last
     * \p max_samples samples. Call before streaming starts.
     */
    virtual void enable_capture(int rx_node, size_t max_samples) = 0;
    /*!
     * \brief The recorded component of \p tx_node at \p rx_node's antenna.
     *
     * The components of all transmitters add up to the noise-free received
     * signal. Under half duplex, while \p rx_node transmits, the others'
     * components are zero and its own (\p tx_node == \p rx_node) is its
     * leakage.
     * \param start set to the RX sample index of the first returned sample
     */
    virtual std::vector<gr_complex>
    captured(int rx_node, int tx_node, int rx_antenna, uint64_t& start) = 0;

    // ----- streaming (used by the virtual radio blocks) -------------------------------
    //! Register the TX sink of \p node; throws if one is already attached.
    virtual void attach_sink(int node, int nchan) = 0;
    virtual void detach_sink(int node) = 0;
    //! Register the RX source of \p node; throws if one is already attached.
    virtual void attach_source(int node, int nchan) = 0;
    virtual void detach_source(int node) = 0;
    /*!
     * \brief Accept up to \p n TX samples per antenna for \p node.
     * Waits at most \p timeout_ms for buffer space. A sample with a NaN or
     * infinite part (or one so large that the transmitted value overflows)
     * goes on the air as 0; \p nonfinite returns how many of this call's
     * samples (over all antennas) were.
     * \return samples accepted (0 on timeout)
     */
    virtual size_t write_tx(int node,
                            const std::vector<const gr_complex*>& in,
                            size_t n,
                            int timeout_ms,
                            uint64_t& nonfinite) = 0;
    //! The sink's input ended: \p node transmits zeros from now on.
    virtual void finish_tx(int node) = 0;
    /*!
     * \brief Produce up to \p n RX samples per antenna for \p node.
     * Waits at most \p timeout_ms for the transmitters.
     * \return samples produced (0 on timeout)
     */
    virtual size_t
    read_rx(int node, const std::vector<gr_complex*>& out, size_t n, int timeout_ms) = 0;
    //! The source stopped: it no longer holds back the transmitters.
    virtual void finish_rx(int node) = 0;
    /*!
     * \brief True once at least one source was attached and every attached
     * source has finished: nobody listens any more, so sinks end their stream.
     */
    virtual bool receivers_done() = 0;
    //! Samples written by node's sink / produced by its source so far.
    virtual uint64_t tx_position(int node) = 0;
    virtual uint64_t rx_position(int node) = 0;
};

} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_CHANNEL_HUB_H */
