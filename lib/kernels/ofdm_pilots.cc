/* -*- c++ -*- */
/*
 * Copyright 2026 The gr-cohere authors
 * SPDX-License-Identifier: GPL-3.0-or-later
 */

#include "ofdm_pilots.h"
#include <complex>
#include <fmt/format.h>
#include <cmath>
#include <cstring>
#include <stdexcept>
#include <string>

namespace gr {
namespace cohere {
namespace kernels {

namespace {
// pilot magnitudes whose powers (and their sum over any map) are normal floats
constexpr double min_pilot_magnitude = 1e-15;
constexpr double max_pilot_magnitude = 1e15;
} // namespace

ofdm_pilots::ofdm_pilots(int fft_len,
                         int cp_len,
                         const std::vector<int>& carrier_map,
                         const std::vector<gr_complex>& pilot_values)
    : d_fft_len(fft_len), d_cp_len(cp_len)
{
    if (fft_len < 8 || fft_len > 65536)
        throw std::invalid_argument("ofdm_pilot_estimator: fft_len must be in 8..65536, got " +
                                    std::to_string(fft_len));
    if (cp_len < 0 || cp_len > fft_len)
        throw std::invalid_argument("ofdm_pilot_estimator: cp_len must be in 0..fft_len, got " +
                                    std::to_string(cp_len));
    if (carrier_map.size() != static_cast<size_t>(fft_len))
        throw std::invalid_argument("ofdm_pilot_estimator: carrier_map needs fft_len (" +
                                    std::to_string(fft_len) + ") entries, got " +
                                    std::to_string(carrier_map.size()));
    for (int i = 0; i < fft_len; i++) {
        const int c = carrier_map[i];
        const int pos = i - fft_len / 2;
        const int bin = (pos + fft_len) % fft_len;
        if (c == 1) {
            d_data_bins.push_back(bin);
            d_data_pos.push_back(pos);
        } else if (c == 2) {
            d_pilot_bins.push_back(bin);
            d_pilot_pos.push_back(pos);
        } else if (c != 0) {
            throw std::invalid_argument("ofdm_pilot_estimator: carrier_map entries must be 0 "
                                        "(null), 1 (data) or 2 (pilot), got " +
                                        std::to_string(c) + " at index " + std::to_string(i));
        }
    }
    if (d_pilot_bins.empty())
        throw std::invalid_argument("ofdm_pilot_estimator: carrier_map has no pilot (2)");
    if (pilot_values.size() != d_pilot_bins.size())
        throw std::invalid_argument("ofdm_pilot_estimator: pilot_values needs one value per "
                                    "pilot (" + std::to_string(d_pilot_bins.size()) +
                                    "), got " + std::to_string(pilot_values.size()));
    d_pilot_energy = 0;
    for (size_t i = 0; i < pilot_values.size(); i++) {
        // the LS estimates divide by the pilots in single precision: their
        // powers, and the sum of them, must stay normal floats
        const auto& p = pilot_values[i];
        const double mag = std::hypot(static_cast<double>(p.real()), static_cast<double>(p.imag()));
        if (!(mag >= min_pilot_magnitude && mag <= max_pilot_magnitude)) // NaN fails too
            throw std::invalid_argument(
                fmt::format("ofdm_pilot_estimator: pilot_values must be finite with magnitude "
                            "in {:g}..{:g}, got ({:g}{:+g}j) at index {}",
                            min_pilot_magnitude,
                            max_pilot_magnitude,
                            p.real(),
                            p.imag(),
                            i));
        d_pilot_energy += std::norm(std::complex<double>(p));
    }
    d_pilot_values = pilot_values;
    d_fft = std::make_unique<gr::fft::fft_complex_fwd>(fft_len, 1);
    d_scale = 1.0f / std::sqrt(static_cast<float>(fft_len));
}

namespace {
// a / b in double: -fcx-limited-range makes complex division the textbook
// formula, whose |b|^2 leaves float's range for |b| below about 1e-19 or
// above about 2e19; in double it cannot for any float b
gr_complex quotient(gr_complex a, gr_complex b)
{
    return gr_complex(std::complex<double>(a) / std::complex<double>(b));
}
} // namespace

gr_complex ofdm_pilots::process(const gr_complex* x,
                                gr_complex* pilot_ls,
                                gr_complex* data_raw,
                                gr_complex* data_eq)
{
    std::memcpy(d_fft->get_inbuf(), x + d_cp_len, d_fft_len * sizeof(gr_complex));
    d_fft->execute();
    const gr_complex* y = d_fft->get_outbuf();
    // the common value sum conj(P) Y / sum |P|^2 in double: each term is
    // about |P|^2 |H|, outside float's range for pilots near the accepted
    // limits (1e-15 or 1e15) even when H and every sample are ordinary floats
    std::complex<double> acc(0.0, 0.0);
    for (size_t p = 0; p < d_pilot_bins.size(); p++) {
        const gr_complex yp = y[d_pilot_bins[p]] * d_scale;
        pilot_ls[p] = quotient(yp, d_pilot_values[p]);
        acc += std::conj(std::complex<double>(d_pilot_values[p])) * std::complex<double>(yp);
    }
    const gr_complex common(acc / d_pilot_energy);
    const size_t np = d_pilot_pos.size();
    size_t seg = 0; // pilots seg-1 and seg bracket the current data carrier
    for (size_t d = 0; d < d_data_bins.size(); d++) {
        data_raw[d] = y[d_data_bins[d]] * d_scale;
        if (!data_eq)
            continue;
        const int pos = d_data_pos[d];
        while (seg < np && d_pilot_pos[seg] < pos)
            seg++;
        gr_complex h;
        if (seg == 0)
            h = pilot_ls[0];
        else if (seg == np)
            h = pilot_ls[np - 1];
        else {
            const float t = static_cast<float>(pos - d_pilot_pos[seg - 1]) /
                            static_cast<float>(d_pilot_pos[seg] - d_pilot_pos[seg - 1]);
            h = (1.0f - t) * pilot_ls[seg - 1] + t * pilot_ls[seg];
        }
        data_eq[d] = (h != gr_complex(0, 0)) ? quotient(data_raw[d], h) : gr_complex(0, 0);
    }
    return common;
}

} // namespace kernels
} // namespace cohere
} // namespace gr
