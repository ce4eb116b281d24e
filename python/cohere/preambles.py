# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Preamble sequences for cohere.preamble_detector_cc, and the closed forms of
its detection statistics and estimation bounds.

Sequences (numpy complex64, unit mean power):
    zadoff_chu(root, length)      constant envelope, ideal periodic autocorrelation
    ofdm_preamble(fft_len, ...)   Schmidl-Cox OFDM symbol: two identical halves (CFO)

Detection statistics of the normalized metric
|sum conj(p) x|^2 / (||p||^2 sum |x|^2) over an N-sample window:
    false_alarm_probability(t, N) = (1 - t)^(N - 1)   (white Gaussian noise: Beta(1, N - 1))
    default_threshold(N)          threshold for 1e-6 false alarms per sample, floor 0.01

Bounds (per-sample SNR = signal power / noise power, complex AWGN):
    phase_crb(N, snr)             1 / (2 N snr)
    timing_crb(p, snr)            from p's spectrum (mean-square bandwidth)
    cfo_crb_repeated(N, L, snr)   frequency from r = N / L repeated parts of unknown content
    cfo_crb_tone(N, snr)          data-aided frequency bound over all N samples
"""

import math

import numpy as np

__all__ = ["zadoff_chu", "ofdm_preamble", "repetition_period", "false_alarm_probability",
           "default_threshold", "phase_crb", "timing_crb", "cfo_crb_repeated", "cfo_crb_tone"]


def _int(name, value):
    try:
        out = int(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected an integer, got {value!r}") from None
    if out != value:
        raise ValueError(f"{name}: expected an integer, got {value!r}")
    return out


def zadoff_chu(root, length):
    """Zadoff-Chu sequence x[n] = exp(-j pi u n (n + c) / N), c = N mod 2.

    Constant envelope; its periodic autocorrelation is zero at every non-zero
    lag, and two sequences of the same prime length with different roots have
    a periodic cross-correlation of constant magnitude sqrt(N) (normalized
    metric 1 / N), so several can be searched at once.

    Args:
        root: u, 1 <= u < N, coprime with N.
        length: N >= 2.

    Returns:
        complex64 array of N samples, |x[n]| = 1.

    Raises:
        ValueError: for a bad length or a root out of range or not coprime with N.
    """
    n_len = _int("length", length)
    u = _int("root", root)
    if n_len < 2:
        raise ValueError(f"length: must be >= 2, got {n_len}")
    if not 1 <= u < n_len:
        raise ValueError(f"root: must be in 1..{n_len - 1}, got {u}")
    if math.gcd(u, n_len) != 1:
        raise ValueError(f"root: must be coprime with length {n_len}, got {u} "
                         f"(gcd {math.gcd(u, n_len)})")
    n = np.arange(n_len, dtype=np.float64)
    # u n (n + c) mod 2N keeps the phase argument small for long sequences
    arg = np.mod(u * n * (n + (n_len % 2)), 2.0 * n_len)
    return np.exp(-1j * np.pi * arg / n_len).astype(np.complex64)


def ofdm_preamble(fft_len=256, active=None, cp_len=0, seed=0):
    """Schmidl-Cox OFDM training symbol: two identical halves, for CFO estimation.

    QPSK values (seeded) on the even subcarriers k = +-2, +-4, ... within the
    `active` centred subcarriers (DC unused), zeros elsewhere; the IDFT of a
    spectrum on even bins repeats with period fft_len / 2. An optional cyclic
    prefix (the last cp_len samples) keeps that period. The detector finds the
    period itself (repetition_period) and estimates the CFO as
    fs / (2 pi L) arg(sum conj(x[k]) x[k + L]), unambiguous for
    |CFO| < fs / (2 L) = fs / fft_len.

    Different seeds are independent random sequences, not a low
    cross-correlation family: searched together, their metrics on each
    other's correlators reach about 0.09 at fft_len 256 (above the default
    threshold 0.053, so an occurrence can also be tagged with another id;
    preamble_detector_cc warns at construction). For several preambles
    searched at once prefer distinct Zadoff-Chu roots of a prime length.

    Args:
        fft_len: even, >= 8.
        active: occupied subcarriers (2..fft_len - 1); default 3/4 fft_len.
        cp_len: cyclic prefix length, 0..fft_len.
        seed: seed of the QPSK values.

    Returns:
        complex64 array of fft_len + cp_len samples, unit mean power.
    """
    fft_len = _int("fft_len", fft_len)
    if fft_len < 8 or fft_len % 2:
        raise ValueError(f"fft_len: must be even and >= 8, got {fft_len}")
    active = fft_len * 3 // 4 if active is None else _int("active", active)
    if not 4 <= active <= fft_len - 1:
        raise ValueError(f"active: must be in 4..{fft_len - 1}, got {active}")
    cp_len = _int("cp_len", cp_len)
    if not 0 <= cp_len <= fft_len:
        raise ValueError(f"cp_len: must be in 0..{fft_len}, got {cp_len}")
    half = active // 2
    ks = np.array([k for k in range(-half, half + 1) if k != 0 and k % 2 == 0])
    rng = np.random.default_rng(seed)
    spec = np.zeros(fft_len, dtype=complex)
    spec[np.mod(ks, fft_len)] = np.exp(1j * (np.pi / 4 + np.pi / 2 * rng.integers(0, 4, len(ks))))
    x = np.fft.ifft(spec)
    x = x / np.sqrt(np.mean(np.abs(x) ** 2))
    if cp_len:
        x = np.concatenate([x[-cp_len:], x])
    return x.astype(np.complex64)


def repetition_period(p, tol=1e-3):
    """Smallest L in 1..N/2 with |p[k + L] - p[k]| <= tol rms(p) for all k < N - L
    (what the detector uses for the CFO), 0 if none."""
    p = np.asarray(p, dtype=complex)
    n = len(p)
    lim = tol * tol * np.mean(np.abs(p) ** 2)
    for lag in range(1, n // 2 + 1):
        if np.all(np.abs(p[lag:] - p[:-lag]) ** 2 <= lim):
            return lag
    return 0


def false_alarm_probability(threshold, length):
    """P(metric > t) for white complex Gaussian noise: (1 - t)^(N - 1).

    The metric is |<p, x>|^2 / (||p||^2 ||x||^2), the squared cosine between a
    fixed direction and an isotropic random vector of C^N, which is
    Beta(1, N - 1) distributed: P(metric > t) = (1 - t)^(N - 1) exactly.
    """
    t = float(threshold)
    if t <= 0:
        return 1.0
    if t >= 1:
        return 0.0
    return math.exp((int(length) - 1) * math.log1p(-t))


def default_threshold(length, pfa=1e-6, floor=0.01):
    """The detector's default threshold: max(1 - pfa^(1/(N-1)), floor).

    Solves (1 - t)^(N - 1) = pfa. The floor (metric 0.01 = per-sample SNR of
    -20 dB) only binds for N > 1380: it keeps long preambles from triggering on
    mildly coloured noise, where the Beta law with N - 1 degrees of freedom no
    longer holds.
    """
    n = int(length)
    return max(-math.expm1(math.log(pfa) / (n - 1)), float(floor))


def phase_crb(length, snr):
    """CRB of the preamble phase, known timing: 1 / (2 N snr) rad^2."""
    return 1.0 / (2.0 * length * snr)


def timing_crb(preamble, snr, nfft=1 << 15):
    """CRB of the preamble delay (samples^2), unknown phase and amplitude:

        var >= 1 / (8 pi^2 N snr (beta^2 - mu^2))

    with beta^2 and mu the second moment and mean of the normalized frequency
    weighted by |P(f)|^2 (white sequence: beta^2 = 1/12, var >= 3 / (2 pi^2 N snr)).
    snr is per sample (mean preamble power / noise power).
    """
    p = np.asarray(preamble, dtype=complex)
    spec = np.abs(np.fft.fft(p, nfft)) ** 2
    f = np.fft.fftfreq(nfft)
    w = spec / spec.sum()
    beta2 = np.sum(w * f ** 2)
    mu = np.sum(w * f)
    return 1.0 / (8.0 * np.pi ** 2 * len(p) * snr * (beta2 - mu ** 2))


def cfo_crb_repeated(length, period, snr, samp_rate=1.0):
    """CRB of the frequency (Hz^2) from r = N / L repeated parts of unknown content.

    Model: r copies of an unknown sequence s (L samples), copy k rotated by
    e^{j 2 pi f k L}. Projecting the derivative on the nuisance (s) leaves the
    Fisher information (2 / sigma^2) L |s|^2 r (r^2 - 1) / 12 for theta = 2 pi f L:

        var(f) >= fs^2 6 / ((2 pi L)^2 L snr r (r^2 - 1)),

    for two halves fs^2 / (4 pi^2 L^3 snr). The detector's estimator
    arg(sum conj(x[k]) x[k + L]) reaches it at high SNR (two halves: its
    variance is the bound times 1 + 1 / (2 snr)).
    """
    n, lag = int(length), int(period)
    if lag <= 0 or n % lag:
        raise ValueError(f"period: must divide length {n}, got {lag}")
    r = n // lag
    if r < 2:
        raise ValueError(f"period: needs at least two repetitions, got {r}")
    return samp_rate ** 2 * 6.0 / ((2 * np.pi * lag) ** 2 * lag * snr * r * (r * r - 1))


def cfo_crb_tone(length, snr, samp_rate=1.0):
    """Data-aided frequency CRB over N samples of known unit-modulus content
    (Rife and Boorstyn): 6 fs^2 / ((2 pi)^2 snr N (N^2 - 1)) Hz^2. The
    repeated-halves estimator does not use the content: at high SNR it is
    N^3 / (6 L^3) = 4/3 (1.25 dB) above this bound for N = 2 L."""
    n = int(length)
    return 6.0 * samp_rate ** 2 / ((2 * np.pi) ** 2 * snr * n * (n * n - 1))
