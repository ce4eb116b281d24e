# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""OFDM helpers matching cohere.ofdm_pilot_estimator's conventions.

Carrier maps are fft_len integers in centred order: entry i is subcarrier
i - fft_len // 2; 0 null, 1 data, 2 pilot. The DFT is unitary, so a symbol
modulated here and demodulated by the estimator gives Y = H X per subcarrier.
Defaults follow the 20-Pluto OAC testbed: IDFT 256, CP 64, 192 active
subcarriers.
"""

import numpy as np

NULL, DATA, PILOT = 0, 1, 2

__all__ = ["NULL", "DATA", "PILOT", "carrier_map", "modulate", "pilot_sequence"]


def carrier_map(fft_len=256, active=192, pilot_spacing=8, dc_null=True):
    """A centred carrier map: `active` subcarriers around DC (DC null if
    dc_null), every pilot_spacing-th active one a pilot, the outermost active
    subcarriers always pilots (so equalization interpolates everywhere)."""
    fft_len, active, pilot_spacing = int(fft_len), int(active), int(pilot_spacing)
    if fft_len < 8:
        raise ValueError(f"fft_len: must be >= 8, got {fft_len}")
    if not 2 <= active <= fft_len - (1 if dc_null else 0):
        raise ValueError(f"active: must be in 2..{fft_len - int(dc_null)}, got {active}")
    if pilot_spacing < 1:
        raise ValueError(f"pilot_spacing: must be >= 1, got {pilot_spacing}")
    half = fft_len // 2
    positions = [p for p in range(-half, fft_len - half) if not (dc_null and p == 0)]
    positions.sort(key=lambda p: (abs(p), p))
    used = sorted(positions[:active])
    cmap = np.zeros(fft_len, dtype=int)
    for n, p in enumerate(used):
        is_pilot = n % pilot_spacing == 0 or n == len(used) - 1
        cmap[p + half] = PILOT if is_pilot else DATA
    return cmap


def pilot_sequence(num_pilots, seed=0):
    """Known unit-modulus pilot values (QPSK from a seeded generator)."""
    rng = np.random.default_rng(seed)
    bits = rng.integers(0, 4, int(num_pilots))
    return np.exp(1j * (np.pi / 4 + np.pi / 2 * bits)).astype(np.complex64)


def modulate(data, cmap, pilots, cp_len):
    """Time-domain OFDM symbols (CP first) from data values.

    Args:
        data: array (num_symbols, num_data) of data subcarrier values.
        cmap: carrier map (see carrier_map).
        pilots: one pilot value per pilot subcarrier (same every symbol).
        cp_len: cyclic prefix length.
    Returns:
        complex64 array of num_symbols * (fft_len + cp_len) samples.
    """
    cmap = np.asarray(cmap)
    fft_len = len(cmap)
    half = fft_len // 2
    if isinstance(cp_len, bool) or not isinstance(cp_len, (int, np.integer)) \
            or not 0 <= cp_len <= fft_len:
        raise ValueError(f"cp_len: must be an integer in 0..{fft_len} (fft_len), got {cp_len!r}")
    data = np.atleast_2d(np.asarray(data, dtype=complex))
    data_pos = np.flatnonzero(cmap == DATA) - half
    pilot_pos = np.flatnonzero(cmap == PILOT) - half
    if data.shape[1] != len(data_pos):
        raise ValueError(f"data: {len(data_pos)} values per symbol expected, got {data.shape[1]}")
    if len(pilots) != len(pilot_pos):
        raise ValueError(f"pilots: {len(pilot_pos)} values expected, got {len(pilots)}")
    out = []
    for row in data:
        grid = np.zeros(fft_len, complex)
        grid[data_pos % fft_len] = row
        grid[pilot_pos % fft_len] = pilots
        sym = np.fft.ifft(grid) * np.sqrt(fft_len)
        out.append(np.concatenate([sym[fft_len - cp_len:], sym]))
    return np.concatenate(out).astype(np.complex64)
