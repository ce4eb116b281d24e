# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Configuration shared by the broken-TDD streaming blocks (APs, central unit, users).

Sample indices are absolute RX/TX indices of the emulator (every node has the
same origin). Slot s covers indices s tau_c .. (s + 1) tau_c - 1; inside a slot
the paper's 1-based sample p sits at index s tau_c + p - 1. Frame n is slots
n F .. n F + F - 1; its first slot is the shifted (broken) one.

Per slot (1-based p, the `paper` reading's schedule of
gnuradio.cohere.algorithms.tdd_sync.schedules):

    p = k (k = 1..K)       user k's uplink pilot (the users send nothing else)
    p = i1                 first slot of a frame: AP 2 -> AP 1 sync, sqrt(rho) u_2
    p = i1 + tau_g + 1     downlink demodulation pilot (both APs, symbol 1)
    DL data                conventional: i1 + tau_g + 2 .. i2 (both APs);
                           shifted slot: AP 1 up to i2 - 1, AP 2 up to
                           i2 - tau_g - 1 (its samples before AP 1's downlink
                           reach nobody and stay empty)
    p = i2                 first slot of a frame: AP 1 -> AP 2 sync, sqrt(rho) conj(u_1)

i1 = tau_p + tau_u, i2 = i1 + tau_g + tau_d, tau_p = K,
tau_u = tau_c - K - 2 tau_g - tau_d.
"""

import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..algorithms import tdd_sync
from ..config_checks import is_finite_real, is_integer

__all__ = ["TddStreamConfig", "dl_symbols"]


@dataclass(frozen=True)
class TddStreamConfig:
    """Everything the APs, the central unit and the analysis agree on.

    N             antennas per AP (1..8, the emulator's limit)
    K             single-antenna users (tau_p = K)
    F             slots per frame (one shifted slot per frame)
    c_nu          Wiener phase-noise constant of both APs' LOs (s)
    snr_ap_db     inter-AP SNR, rho beta_G / noise power at an AP antenna (dB);
                  the sync after beamforming sees rho ||G||_op^2 / noise
    tau_c, tau_g, tau_d   slot, guard and downlink lengths (samples)
    samp_rate, center_freq   Hz (the paper's 20 MHz at 2 GHz)
    lookahead     D: an AP's TX sample t depends on its RX samples up to t - D;
                  at most max_lookahead (the pilot -> downlink turnaround and
                  the gap from i2 to AP 2's next transmission); None: that
                  maximum (the emulator advances about D samples per step, so
                  the largest D runs fastest)
    beta_g        large-scale gain of the inter-AP channel G (linear)
    snr_ul_db     uplink pilot SNR per AP antenna (dB), sets the channel
                  estimates' quality (high: the paper's LMMSE estimates of a
                  known-statistics channel are then close to exact)
    noise_power   AWGN power per AP antenna (linear)
    seed          channels, chain gains, LO phases, noise, data symbols
    """

    N: int = 4
    K: int = 1
    F: int = 2
    c_nu: float = 1.58e-17
    snr_ap_db: float = 0.0
    tau_c: int = 100
    tau_g: int = 3
    tau_d: int = 42
    samp_rate: float = 20e6
    center_freq: float = 2e9
    lookahead: Optional[int] = None
    beta_g: float = 1.0
    snr_ul_db: float = 30.0
    noise_power: float = 1.0
    seed: int = 0

    def __post_init__(self):
        def need(ok, name, why):
            if not ok:
                raise ValueError(f"{name}: {why}, got {getattr(self, name)!r}")

        if self.lookahead is None:
            object.__setattr__(self, "lookahead", 1)   # placeholder until the geometry is checked
            auto = True
        else:
            auto = False
        for name in ("N", "K", "F", "tau_c", "tau_g", "tau_d", "lookahead", "seed"):
            need(is_integer(getattr(self, name)), name, "must be an integer")
        need(1 <= self.N <= 8, "N", "must be in 1..8")
        need(self.K >= 1, "K", "must be >= 1")
        need(self.F >= 1, "F", "must be >= 1")
        need(self.tau_g >= 0, "tau_g", "must be >= 0")
        need(self.tau_d >= 2, "tau_d", "must be >= 2")
        need(self.tau_u >= 1, "tau_c", f"must leave tau_u >= 1 after K + 2 tau_g + tau_d = "
             f"{self.K + 2 * self.tau_g + self.tau_d}")
        need(self.seed >= 0, "seed", "must be >= 0")
        for name in ("c_nu", "snr_ap_db", "samp_rate", "center_freq", "beta_g", "snr_ul_db",
                     "noise_power"):
            need(is_finite_real(getattr(self, name)), name, "must be a finite number")
        need(self.c_nu >= 0, "c_nu", "must be >= 0")
        need(self.samp_rate > 0, "samp_rate", "must be > 0")
        need(self.center_freq > 0, "center_freq", "must be > 0")
        need(self.beta_g > 0, "beta_g", "must be > 0")
        need(self.noise_power > 0, "noise_power", "must be > 0")
        need(self.lookahead >= 1, "lookahead", "must be >= 1")
        need(self.max_lookahead >= 1, "tau_c", "leaves no pilot -> downlink turnaround")
        _, shifted = self.schedules()
        need(shifted.a1.any() and shifted.a2.any(), "tau_d",
             f"must leave downlink data to both APs in the shifted slot (AP 1: "
             f"{int(shifted.a1.sum())}, AP 2: {int(shifted.a2.sum())} samples with "
             f"tau_g = {self.tau_g})")
        if auto:
            object.__setattr__(self, "lookahead", self.max_lookahead)
        need(self.lookahead <= self.max_lookahead, "lookahead",
             f"must be <= {self.max_lookahead}: the downlink (from p = {self.pilot_p}) "
             f"beamforms with the uplink pilots of the same slot (up to p = {self.K}), and "
             f"AP 2 applies each estimate from its next downlink sample after i2")

    # ----- slot geometry -------------------------------------------------------
    @property
    def tau_p(self):
        return self.K

    @property
    def tau_u(self):
        return self.tau_c - self.K - 2 * self.tau_g - self.tau_d

    @property
    def i1(self):
        return self.tau_p + self.tau_u

    @property
    def i2(self):
        return self.i1 + self.tau_g + self.tau_d

    @property
    def pilot_p(self):
        """The downlink demodulation pilot (1-based)."""
        return self.i1 + self.tau_g + 1

    @property
    def frame_len(self):
        return self.F * self.tau_c

    @property
    def apply_p(self):
        """1-based sample of the slot after the sync slot from which AP 2 uses a
        new estimate: its first transmission after i2 (the sync at i1 when
        the next slot is shifted again, F = 1, else the demodulation pilot)."""
        return self.i1 if self.F == 1 else self.pilot_p

    @property
    def max_lookahead(self):
        turnaround = self.pilot_p - self.K - 1
        apply_gap = self.tau_c + self.apply_p - self.i2 - 1
        return min(turnaround, apply_gap)

    def frame_start(self, n):
        return n * self.frame_len

    def sync21_index(self, n):
        """Absolute index of the AP 2 -> AP 1 sync of frame n."""
        return self.frame_start(n) + self.i1 - 1

    def sync12_index(self, n):
        """Absolute index of the AP 1 -> AP 2 sync of frame n (the time the
        estimate alpha_n refers to)."""
        return self.frame_start(n) + self.i2 - 1

    def apply_index(self, n):
        """TX index from which AP 2's precoder uses the estimate of frame n."""
        return self.frame_start(n) + self.tau_c + self.apply_p - 1

    def frame_of_time(self, t):
        """Frame n whose sync12_index is t (None if t is not one)."""
        n, r = divmod(int(t) - (self.i2 - 1), self.frame_len)
        return n if r == 0 and n >= 0 else None

    # ----- derived quantities -------------------------------------------------------
    @property
    def rho(self):
        """Sync power per sample (sum over the AP's antennas)."""
        return 10.0 ** (self.snr_ap_db / 10.0) * self.noise_power / self.beta_g

    @property
    def ul_amp(self):
        """Uplink pilot amplitude (AP-user links have unit large-scale gain)."""
        return math.sqrt(10.0 ** (self.snr_ul_db / 10.0) * self.noise_power)

    def system_params(self):
        """The matching tdd_sync.SystemParams (for kalman_variances)."""
        return tdd_sync.SystemParams(N=self.N, K=self.K, fc=self.center_freq,
                                     fs=self.samp_rate, tau_c=self.tau_c, tau_g=self.tau_g,
                                     tau_d=self.tau_d).validate()

    def schedules(self):
        """(conventional, shifted) SlotSchedule of the `paper` reading."""
        return tdd_sync.schedules(self.system_params(), tdd_sync.READINGS["paper"])

    def kalman_variances(self, G_norm2):
        """(sigma_zeta2, sigma_xi2, sigma_mu2) of (15)-(16) for an inter-AP
        channel with ||G||_op^2 = G_norm2: sigma_mu2 = noise / (rho ||G||_op^2)
        (the two one-way estimates together)."""
        sz, sx = tdd_sync.kalman_variances(self.F, self.c_nu, self.system_params())
        return sz, sx, self.noise_power / (self.rho * float(G_norm2))


def dl_symbols(seed, slot, K, tau_c):
    """Downlink symbols of slot `slot`: (K, tau_c) unit-modulus QPSK, the same
    for both APs (the central unit's data), symbol 1 everywhere the schedule
    puts the demodulation pilot (the caller picks the samples)."""
    rng = np.random.default_rng([int(seed), 0x7D0, int(slot)])
    q = rng.integers(0, 4, size=(K, tau_c))
    return np.exp(1j * (np.pi / 4 + np.pi / 2 * q)).astype(np.complex64)
