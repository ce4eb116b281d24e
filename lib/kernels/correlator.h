/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#ifndef INCLUDED_COHERE_KERNELS_CORRELATOR_H
#define INCLUDED_COHERE_KERNELS_CORRELATOR_H

#include <gnuradio/cohere/api.h>
#include <gnuradio/fft/fft.h>
#include <gnuradio/gr_complex.h>
#include <cstddef>
#include <memory>
#include <vector>

namespace gr {
namespace cohere {
namespace kernels {

/*!
 * \brief Sliding cross-correlation of a stream with a known sequence p of length N:
 *
 *   out[n] = sum_{k=0}^{N-1} conj(p[k]) x[n + k]
 *
 * out[n] is the correlation of the window that starts at x[n]. Algorithm
 * variants are swappable objects (direct_correlator, fft_correlator) with the
 * same results up to float rounding.
 */
class COHERE_API correlator
{
public:
    virtual ~correlator() = default;

    //! N, the sequence length.
    size_t length() const { return d_len; }
    //! Most outputs one step() computes (M - N + 1 rounded down to a
    //! multiple of 4 for the FFT form).
    virtual size_t block_outputs() const = 0;
    /*!
     * \brief Samples a full_step() reads: block_outputs() + N - 1, or more
     * when the algorithm reads whole blocks (M for the FFT form).
     */
    virtual size_t input_span() const { return block_outputs() + d_len - 1; }
    /*!
     * \brief One step: cnt <= block_outputs() outputs from x (cnt + N - 1
     * samples). A partial FFT step costs a full one.
     * \return the outputs, in a buffer owned by the correlator and valid until
     *         the next call
     */
    virtual const gr_complex* step(const gr_complex* x, size_t cnt) = 0;
    /*!
     * \brief A step of block_outputs() outputs that reads x[0 .. input_span() - 1].
     *
     * The samples past the last window, x[block_outputs() + N - 1 ..], do
     * not enter the outputs mathematically, only their float rounding: a
     * stream's own samples there make the bits depend on the stream alone.
     * Cheaper than step() where that has to copy (the FFT form reads x in
     * place when x is aligned like its buffers).
     * \return as step()
     */
    virtual const gr_complex* full_step(const gr_complex* x) { return step(x, block_outputs()); }
    /*!
     * \brief Any number of outputs (steps, copied to out).
     * \param x nout + N - 1 input samples (the windows of out[0 .. nout - 1])
     * \param out nout outputs
     */
    void correlate(const gr_complex* x, gr_complex* out, size_t nout);
    //! "direct" or "fft".
    virtual const char* name() const = 0;

protected:
    explicit correlator(size_t len) : d_len(len) {}
    const size_t d_len;
};

/*!
 * \brief Direct form: one VOLK conjugate dot product
 * (volk_32fc_x2_conjugate_dot_prod_32fc) of N points per output.
 *
 * Cost N complex multiply-adds per output plus the VOLK call; measured on an
 * AVX2 machine 8 ns per output at N = 16 and 17 ns at N = 64, against 2.4 and
 * 3.4 ns for fft_correlator, so make_correlator() uses the FFT form from
 * k_fft_min_length on. Kept as the reference implementation and for callers
 * that need a few outputs at arbitrary positions.
 */
class COHERE_API direct_correlator : public correlator
{
public:
    //! \throws std::invalid_argument if p is empty
    explicit direct_correlator(const std::vector<gr_complex>& p);
    size_t block_outputs() const override { return d_out.size(); }
    const gr_complex* step(const gr_complex* x, size_t cnt) override;
    const char* name() const override { return "direct"; }

private:
    std::vector<gr_complex> d_p;
    std::vector<gr_complex> d_out;
};

/*!
 * \brief Overlap-save FFT correlation (gr::fft, FFTW): per step one forward
 * FFT of M input samples, a product with conj(FFT(p)) / M and one inverse FFT
 * give the outputs of the first block_outputs() windows: M - N + 1 rounded
 * down to a multiple of 4, so that full steps over a 32-byte aligned stream
 * buffer start aligned and the forward FFT reads them in place (full_step();
 * step() copies, zero-padded).
 *
 * Cost per output about 2 M log2(M) / (M - N + 1); the default M
 * (default_fft_size) was chosen from measured times per output.
 */
class COHERE_API fft_correlator : public correlator
{
public:
    /*!
     * \param p the sequence
     * \param fft_size M, a power of two >= 2 N; 0 chooses default_fft_size(N)
     * \throws std::invalid_argument if p is empty or M is not a power of two >= 2 N
     */
    explicit fft_correlator(const std::vector<gr_complex>& p, size_t fft_size = 0);
    ~fft_correlator() override;
    size_t block_outputs() const override { return d_step; }
    size_t input_span() const override { return d_fft_size; }
    const gr_complex* step(const gr_complex* x, size_t cnt) override;
    const gr_complex* full_step(const gr_complex* x) override;
    const char* name() const override { return "fft"; }
    size_t fft_size() const { return d_fft_size; }

    /*!
     * Default M: max(pow2 >= 4 N, min(pow2 >= 8 N, 2048)). Measured on an AVX2
     * machine (ns per output, FFTW MEASURE plans, incl. copies and product):
     * N = 64: M = 512 3.4; N = 256: M = 2048 3.5; N = 1024: M = 4096 4.3
     * (2048: 5.6, 8192: 5.4); N = 4096: M = 16384 7.0. Above 4096 points
     * FFTW leaves the L1 cache, hence the cap at 4 N for long sequences.
     */
    static size_t default_fft_size(size_t len);

private:
    const gr_complex* finish(); // product with d_h, inverse FFT

    const size_t d_fft_size;
    const size_t d_step;
    std::vector<gr_complex> d_h; // conj(FFT(p)) / M
    std::unique_ptr<gr::fft::fft_complex_fwd> d_fwd;
    std::unique_ptr<gr::fft::fft_complex_rev> d_inv;
    void* d_plan = nullptr; // FFTW plan of d_fwd's transform, for new input arrays
    int d_align = 0;        // FFTW's alignment class of d_fwd's input buffer
};

//! Shortest sequence make_correlator() correlates with FFTs (see direct_correlator).
constexpr size_t k_fft_min_length = 8;

//! The faster variant for p: direct below k_fft_min_length, FFT from there on.
COHERE_API std::unique_ptr<correlator> make_correlator(const std::vector<gr_complex>& p);

} // namespace kernels
} // namespace cohere
} // namespace gr

#endif /* INCLUDED_COHERE_KERNELS_CORRELATOR_H */
