/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "correlator.h"
#include <gnuradio/fft/fft.h>
#include <fftw3.h>
#include <volk/volk.h>
#include <algorithm>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
size_t next_pow2(size_t n)
{
    size_t m = 1;
    while (m < n)
        m <<= 1;
    return m;
}

size_t checked_length(const std::vector<gr_complex>& p, const char* who)
{
    if (p.empty())
        throw std::invalid_argument(std::string(who) + ": the sequence must not be empty");
    return p.size();
}
} // namespace

void correlator::correlate(const gr_complex* x, gr_complex* out, size_t nout)
{
    const size_t blk = block_outputs();
    for (size_t done = 0; done < nout; done += blk) {
        const size_t cnt = std::min(blk, nout - done);
        const gr_complex* r = step(x + done, cnt);
        std::copy(r, r + cnt, out + done);
    }
}

direct_correlator::direct_correlator(const std::vector<gr_complex>& p)
    : correlator(checked_length(p, "direct_correlator")), d_p(p), d_out(1024)
{
}

const gr_complex* direct_correlator::step(const gr_complex* x, size_t cnt)
{
    const unsigned int n = static_cast<unsigned int>(d_len);
    cnt = std::min(cnt, d_out.size());
    for (size_t i = 0; i < cnt; i++)
        volk_32fc_x2_conjugate_dot_prod_32fc(&d_out[i], x + i, d_p.data(), n);
    return d_out.data();
}

size_t fft_correlator::default_fft_size(size_t len)
{
    return std::max(next_pow2(4 * len), std::min(next_pow2(8 * len), size_t(2048)));
}

namespace {
size_t checked_fft_size(const std::vector<gr_complex>& p, size_t fft_size)
{
    const size_t len = checked_length(p, "fft_correlator");
    if (fft_size == 0)
        return fft_correlator::default_fft_size(len);
    if (fft_size < 2 * len || (fft_size & (fft_size - 1)) != 0)
        throw std::invalid_argument(
            "fft_correlator: fft_size must be a power of two >= 2 * length (" +
            std::to_string(2 * len) + "), got " + std::to_string(fft_size));
    return fft_size;
}
} // namespace

fft_correlator::fft_correlator(const std::vector<gr_complex>& p, size_t fft_size)
    : correlator(checked_length(p, "fft_correlator")),
      d_fft_size(checked_fft_size(p, fft_size)),
      d_step((d_fft_size - d_len + 1) & ~size_t(3)),
      d_h(d_fft_size),
      d_fwd(std::make_unique<gr::fft::fft_complex_fwd>(static_cast<int>(d_fft_size))),
      d_inv(std::make_unique<gr::fft::fft_complex_rev>(static_cast<int>(d_fft_size)))
{
    gr_complex* in = d_fwd->get_inbuf();
    std::fill(in, in + d_fft_size, gr_complex(0, 0));
    std::copy(p.begin(), p.end(), in);
    d_fwd->execute();
    const gr_complex* spec = d_fwd->get_outbuf();
    const float scale = 1.0f / static_cast<float>(d_fft_size);
    for (size_t k = 0; k < d_fft_size; k++)
        d_h[k] = std::conj(spec[k]) * scale;

    // A plan of the same transform that full_step() executes on the caller's
    // array (fftwf_execute_dft). gr::fft planned it just before with the same
    // flags, so FFTW's wisdom makes this immediate (without wisdom, planning
    // would overwrite both buffers: harmless, d_h is already computed).
    // FFTW's planner is not thread-safe: gr::fft's mutex guards every
    // planner call of the process.
    auto* fin = reinterpret_cast<fftwf_complex*>(d_fwd->get_inbuf());
    auto* fout = reinterpret_cast<fftwf_complex*>(d_fwd->get_outbuf());
    {
        std::lock_guard<std::mutex> lock(gr::fft::planner::mutex());
        d_plan = fftwf_plan_dft_1d(
            static_cast<int>(d_fft_size), fin, fout, FFTW_FORWARD, FFTW_MEASURE);
    }
    if (!d_plan)
        throw std::runtime_error("fft_correlator: FFTW could not plan a forward FFT of " +
                                 std::to_string(d_fft_size) + " points");
    d_align = fftwf_alignment_of(reinterpret_cast<float*>(fin));
}

fft_correlator::~fft_correlator()
{
    std::lock_guard<std::mutex> lock(gr::fft::planner::mutex());
    fftwf_destroy_plan(static_cast<fftwf_plan>(d_plan));
}

const gr_complex* fft_correlator::finish()
{
    volk_32fc_x2_multiply_32fc(
        d_inv->get_inbuf(), d_fwd->get_outbuf(), d_h.data(), static_cast<unsigned int>(d_fft_size));
    d_inv->execute();
    return d_inv->get_outbuf();
}

const gr_complex* fft_correlator::full_step(const gr_complex* x)
{
    const auto plan = static_cast<fftwf_plan>(d_plan);
    // FFTW reads a new array in place only if it has the planned alignment
    // (for a forward complex DFT out of place, FFTW leaves the input intact)
    float* xf = const_cast<float*>(reinterpret_cast<const float*>(x));
    if (fftwf_alignment_of(xf) == d_align) {
        fftwf_execute_dft(plan,
                          reinterpret_cast<fftwf_complex*>(xf),
                          reinterpret_cast<fftwf_complex*>(d_fwd->get_outbuf()));
    } else {
        std::memcpy(d_fwd->get_inbuf(), x, d_fft_size * sizeof(gr_complex));
        fftwf_execute(plan);
    }
    return finish();
}

const gr_complex* fft_correlator::step(const gr_complex* x, size_t cnt)
{
    cnt = std::min(cnt, d_step);
    const size_t nin = cnt + d_len - 1;
    gr_complex* fin = d_fwd->get_inbuf();
    std::memcpy(fin, x, nin * sizeof(gr_complex));
    if (nin < d_fft_size)
        std::fill(fin + nin, fin + d_fft_size, gr_complex(0, 0));
    fftwf_execute(static_cast<fftwf_plan>(d_plan));
    return finish();
}

std::unique_ptr<correlator> make_correlator(const std::vector<gr_complex>& p)
{
    if (p.size() < k_fft_min_length)
        return std::make_unique<direct_correlator>(p);
    return std::make_unique<fft_correlator>(p);
}

} // namespace kernels
} // namespace cohere
} // namespace gr
