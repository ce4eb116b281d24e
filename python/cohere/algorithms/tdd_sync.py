# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken-TDD bidirectional phase synchronization between two APs (pure numpy).

Model of K.-H. Ngo and E. G. Larsson, "Breaking the TDD flow for over-the-air
phase synchronization in distributed antenna systems" (digest:
docs/papers/broken-tdd-kalman.md). Sample indices inside a slot are 1-based as
in the paper: the slot holds samples p = 1..tau_c, user k's uplink pilot is
sample k (k = 1..K), and [i]_k of (7) is "sample k of the slot containing i".

Slot geometry (tau_u = tau_c - tau_p - 2 tau_g - tau_d):

    conventional (both APs, AP 1 always):  pilots 1..K | UL data ..i1 | guard |
                                           DL i1+tau_g+1 .. i2 | guard
    broken (AP 2, first slot of a frame):  DL moved tau_s + tau_g samples earlier,
                                           DL i1-tau_s+1 .. i2-tau_s-tau_g | guard |
                                           UL i2-tau_s+1 .. tau_c
    i1 = tau_p + tau_u,  i2 = tau_p + tau_u + tau_g + tau_d                   (10)

    AP 2 -> AP 1 sync on samples i1-tau_s+1..i1 (AP 1 in uplink),
    AP 1 -> AP 2 sync on samples i2-tau_s+1..i2 (AP 2 in uplink).
    The paper's text moves tau_g + 1 samples (tau_s = 1); its Fig. 1 caption
    moves tau_s + tau_g. Both are the same schedule for tau_s = 1.

Phase noise: Wiener, nu_{l,i} = nu_{l,i-1} + N(0, sigma_nu^2),
sigma_nu^2 = 4 pi^2 fc^2 c_nu / fs (14). TX multiplies by exp(-j nu), RX by
exp(+j nu). The residual phase of AP l for user k at sample i is (24)

    Delta_{k,l,i} = exp(j(-nu_{l,i} - nu_{l,[i]_k} + theta_{l,i} + psi_{k,i}))

(the paper's (6) writes exp[-j(nu_i - nu_[i]_k)], a sign typo: with the
channel estimate q_hat = exp(j nu_[i]_k) h the conjugate beamformer carries
exp(-j nu_[i]_k) and the transmitter exp(-j nu_i); (8), (24) and the
digest use the sum). theta_1 = 0, theta_2 = the latest estimate of
phi^(2) - phi^(1) (9), psi_k = user k's phase reference from the DL
demodulation pilot.

Sync measurement (11)-(13): AP 2 beamforms u_2 = v_1 (leading right singular
vector of G) to AP 1 through G; AP 1 beamforms through G^T. For AP 1 -> AP 2
to see ||G||_op, AP 1 must transmit conj(u_1) (u_1 = leading left singular
vector of G): G^T conj(u_1) = sigma_1 conj(v_1). The paper writes x_1 = u_1
and the combiner u_1^H G^* y_2; read literally (transmit u_1 through G^T) the
array gain is ||G^T u_1||^2 ~ N beta_G instead of ||G||_op^2 ~ 4 N beta_G, and
the MSE statement 1 / (2 rho ||G||_op^2) fails for N > 1. We use conj(u_1)
(as BeamSync's a = conj(u_1)), with the matching combiner u_1^T G^* y_2;
`literal_u1=True` keeps the paper's literal vectors for comparison. Either way
the arbitrary phase of the singular vectors cancels in the combiner.

SE (Theorem 1 (26), Corollary 1 (27)) with E[Delta] by Monte Carlo over
realizations of consecutive frames (vectorized: one realization per column),
per sample position of the frame and per user, averaged over users.

Implicit assumptions (all parameters of `Reading`; see docs/tdd_kalman.md):

* tau_s, the sync length (samples each way, coherently combined);
* which DL samples carry data in the shifted slot (`shifted_slot`):
  "sync"     - only the sync samples are lost; the samples where only one AP
               is in downlink (AP 2 before AP 1 starts, AP 1 after AP 2
               stopped) carry data from that AP alone (a_{l,i} of (26) = 0
               for the other);
  "ue_guard" - the users keep the conventional slot (uplink up to i1, then
               their own guard), so what AP 2 sends before AP 1's downlink
               period reaches nobody: AP 2 loses tau_s + tau_g data samples,
               AP 1 tau_s; AP 1's samples after AP 2 stopped carry AP 1 alone;
  "joint"    - the shifted slot carries data only where both APs are in
               downlink, all single-AP samples are lost;
* the UE phase reference (`ue_phase`): "ap1" - psi = phi^(1) of the user at
  the slot's demodulation pilot (noiseless, held until the next pilot; the
  pilot sample carries no data), as the paper's Sec. II-C says; "composite" -
  psi = phase of the composite (AP 1 + AP 2) gain at the pilot, what a pilot
  sent by both APs measures; "ideal" - psi_{k,i} = phi^(1)_{k,i} at every
  sample (no pilot ageing);
* `shifted_pilot`: the shifted slot carries a second demodulation pilot at
  AP 2's first DL data sample (AP 2 starts before AP 1's pilot);
* `measurement`: "angle" - alphabar is the angle estimator (13) on simulated
  samples; "gaussian" - alphabar follows the paper's model (16) with
  mu ~ N(0, 1 / (tau_s rho ||G||_op^2));
* SNR_AP = rho_AP beta_G with G i.i.d. CN(0, beta_G) (paper, Sec. V), so
  rho_AP ||G||_op^2 = SNR_AP ||G/sqrt(beta_G)||_op^2 ~ 4 N SNR_AP (3.7 N for
  N = 64);
* rho_AP = 2 rho_UE (linear, 23 dB) and the Kalman measurement variance
  sigma_mu^2 = 1 / (tau_s rho_AP ||G||_op^2) (the paper's, tau_s = 1).

READINGS["paper"] (ue_guard, composite, gaussian, tau_s = 1) reproduces the
paper's optimal F; READINGS["simple"] (sync, ap1, angle) is the issue's quick
model. The shifted-slot cost is what decides the optimum (docs/tdd_kalman.md).
"""

import math
from dataclasses import dataclass, field

import numpy as np

from .kalman import WrappedPhaseKalman, wrap

__all__ = [
    "SystemParams", "Reading", "READINGS", "SlotSchedule", "sigma_nu2", "kalman_variances",
    "leading_singular_vectors", "sync_vectors", "one_way_estimates", "one_way_mse_theory",
    "rate_26", "simulate_se", "ap1_only_se", "ap1_only_se_theory", "g_norms", "schedules",
    "burn_in_frames", "wiener_error_variances",
]


# ----------------------------------------------------------------------------
# parameters
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class SystemParams:
    """Numerical setup of the paper's Sec. V (defaults)."""
    N: int = 64                 # antennas per AP
    K: int = 10                 # users (tau_p = K)
    fc: float = 2e9             # carrier (Hz)
    fs: float = 20e6            # bandwidth / sample rate (Hz)
    tau_c: int = 100            # slot (coherence block) length
    tau_g: int = 3              # guard
    tau_d: int = 42             # DL data period = (tau_c - tau_p - 2 tau_g) / 2
    beta_db: float = -20.0      # large-scale fading AP-UE, all pairs
    rho_ue_db: float = 20.0     # UE power constraint
    rho_ap_factor: float = 2.0  # rho_AP = 2 rho_UE (linear)

    @property
    def tau_p(self):
        return self.K

    @property
    def tau_u(self):
        return self.tau_c - self.tau_p - 2 * self.tau_g - self.tau_d

    @property
    def i1(self):
        return self.tau_p + self.tau_u

    @property
    def i2(self):
        return self.tau_p + self.tau_u + self.tau_g + self.tau_d

    @property
    def rho_ue(self):
        return 10.0 ** (self.rho_ue_db / 10.0)

    @property
    def rho_ap(self):
        return self.rho_ap_factor * self.rho_ue

    @property
    def beta(self):
        return 10.0 ** (self.beta_db / 10.0)

    @property
    def gamma(self):
        """gamma = sqrt(rho_UE K) beta c, c = sqrt(rho_UE K) beta / (rho_UE K beta + 1)."""
        rk = self.rho_ue * self.K
        return rk * self.beta ** 2 / (rk * self.beta + 1.0)

    @property
    def eta(self):
        return 1.0 / self.K

    def validate(self):
        if self.tau_u < 0:
            raise ValueError(f"tau_c={self.tau_c} too short for tau_p={self.tau_p}, "
                             f"2 tau_g={2 * self.tau_g}, tau_d={self.tau_d}")
        if min(self.N, self.K, self.tau_c, self.tau_d) < 1 or self.tau_g < 0:
            raise ValueError("N, K, tau_c, tau_d must be >= 1 and tau_g >= 0")
        return self


@dataclass(frozen=True)
class Reading:
    """The assumptions the paper leaves implicit (see the module docstring)."""
    name: str
    tau_s: int = 1
    shifted_slot: str = "sync"      # "sync" | "ue_guard" | "joint"
    ue_phase: str = "ap1"           # "ap1" | "composite" | "ideal"
    shifted_pilot: bool = False
    literal_u1: bool = False
    measurement: str = "angle"      # "angle" | "gaussian"
    description: str = ""

    def validate(self, sp):
        if self.shifted_slot not in ("sync", "ue_guard", "joint"):
            raise ValueError("shifted_slot must be 'sync', 'ue_guard' or 'joint', got "
                             f"{self.shifted_slot!r}")
        if self.ue_phase not in ("ap1", "composite", "ideal"):
            raise ValueError(f"ue_phase must be ap1/composite/ideal, got {self.ue_phase!r}")
        if self.measurement not in ("angle", "gaussian"):
            raise ValueError(f"measurement must be 'angle' or 'gaussian', got {self.measurement!r}")
        if not 1 <= self.tau_s <= min(sp.tau_u, sp.tau_d - 1):
            raise ValueError(f"tau_s must be in 1..{min(sp.tau_u, sp.tau_d - 1)}, got {self.tau_s}")
        return self


READINGS = {
    # the reading that reproduces the paper's optimal F (docs/tdd_kalman.md)
    "paper": Reading(
        "paper", tau_s=1, shifted_slot="ue_guard", ue_phase="composite",
        measurement="gaussian",
        description="users keep the conventional slot, so AP 2's early downlink "
                    "(before AP 1's) reaches nobody; the user's demodulation pilot "
                    "measures the composite phase; alphabar follows model (16)"),
    # the quick independent model
    "simple": Reading(
        "simple", tau_s=1, shifted_slot="sync", ue_phase="ap1", measurement="angle",
        description="only the two sync samples are lost; the user knows phi^(1) at "
                    "its pilot; alphabar = the angle estimator (13)"),
}


def sigma_nu2(c_nu, sp):
    """Per-sample Wiener increment variance 4 pi^2 fc^2 c_nu / fs (rad^2)."""
    return 4.0 * math.pi ** 2 * sp.fc ** 2 * c_nu / sp.fs


def kalman_variances(F, c_nu, sp):
    """(sigma_zeta^2, sigma_xi^2) of (15)-(16):
    [8 F tau_c - 4 (i2 - floor(K/2))] sigma_nu^2 and 2 (i1 - floor(K/2)) sigma_nu^2."""
    s2 = sigma_nu2(c_nu, sp)
    kh = sp.K // 2
    return ((8.0 * F * sp.tau_c - 4.0 * (sp.i2 - kh)) * s2, 2.0 * (sp.i1 - kh) * s2)


def wiener_error_variances(F, c_nu, sp, sigma_mu2):
    """Steady state of the Kalman filter (17)-(19) on the physical Wiener model.

    (15)-(16) treat zeta_n as independent increments and correlate them with
    the measurement noise of the same step only. With d = nu_2 - nu_1 a Wiener
    process (2 sigma_nu^2 per sample), alpha_n = d(i2) + d([i2]_{K/2}) and
    xi_n = d(i1) - d([i1]_{K/2}) of frame n, the exact second moments are
        cov(zeta_n, xi_n)     = s_xi      (in the model)
        cov(zeta_{n+1}, xi_n) = s_xi      (not in the model: [K/2, i1] of frame n
                                          is inside the next increment too)
        cov(zeta_n, zeta_{n+1}) = c_z = 2 (i2 - floor(K/2)) sigma_nu^2   (not in the model)
    With the steady gain kappa of (17), the prediction error
    e_n = alpha_{n+1} - alphahat_n = (1 - kappa) e_{n-1} + zeta_{n+1} - kappa (xi_n + mu_n)
    has the variance
        V = [s_zeta + kappa^2 (s_xi + s_mu) - 2 kappa (1 - kappa) s_xi
             - 2 kappa s_xi + 2 (1 - kappa) c_z] / (2 kappa - kappa^2),
    the a-posteriori error alpha_n - alphahat_n
        V_post = (1 - kappa)^2 V + kappa^2 (s_xi + s_mu) - 2 kappa (1 - kappa) s_xi.
    Without the two extra terms V equals the filter's own P (it is (19) at
    its fixed point). Returns a dict: P (the filter's steady P_n), kappa, V,
    V_post, ratio = V / P, ratio_post = V_post / (P - s_zeta). With c_nu = 0
    every variance is 0 and both ratios are 1."""
    sz, sx = kalman_variances(F, c_nu, sp)
    smu = float(sigma_mu2)
    if not (math.isfinite(smu) and smu > 0.0):
        raise ValueError(f"sigma_mu2 must be finite and > 0, got {sigma_mu2!r}")
    P = float(WrappedPhaseKalman.riccati_fixed_point(sz, sx, smu))
    if sz == 0.0 and sx == 0.0:
        # ideal oscillators (c_nu = 0): the phase is constant, the gain and
        # both errors decay to 0, and the exact model is the filter's own
        return {"P": P, "kappa": 0.0, "V": 0.0, "V_post": 0.0, "ratio": 1.0,
                "ratio_post": 1.0, "sigma_zeta2": sz, "sigma_xi2": sx, "sigma_mu2": smu}
    k = (P + sx) / (P + 3.0 * sx + smu)
    cz = 2.0 * (sp.i2 - sp.K // 2) * sigma_nu2(c_nu, sp)
    V = (sz + k * k * (sx + smu) - 2.0 * k * (1.0 - k) * sx - 2.0 * k * sx
         + 2.0 * (1.0 - k) * cz) / (2.0 * k - k * k)
    V_post = (1.0 - k) ** 2 * V + k * k * (sx + smu) - 2.0 * k * (1.0 - k) * sx
    return {"P": P, "kappa": k, "V": V, "V_post": V_post, "ratio": V / P,
            "ratio_post": V_post / (P - sz), "sigma_zeta2": sz, "sigma_xi2": sx,
            "sigma_mu2": smu}


# ----------------------------------------------------------------------------
# one-way phase measurement between the APs
# ----------------------------------------------------------------------------

def leading_singular_vectors(G):
    """(u1, v1, sigma1): G v1 = sigma1 u1, G^H u1 = sigma1 v1."""
    U, s, Vh = np.linalg.svd(np.atleast_2d(G))
    return U[:, 0], Vh[0].conj(), float(s[0])


def sync_vectors(G, literal_u1=False):
    """Transmit vectors (x1 of AP 1 through G^T, x2 = u_2 of AP 2 through G).

    u_2 = v_1 (leading right singular vector): G u_2 = sigma_1 u_1.
    x1 = conj(u_1): G^T conj(u_1) = conj(G^H u_1) = sigma_1 conj(v_1).
    literal_u1: x1 = u_1 as printed in the paper (gain ||G^T u_1|| <= sigma_1).
    """
    u1, v1, _ = leading_singular_vectors(G)
    return (u1 if literal_u1 else u1.conj()), v1


def one_way_estimates(G, alpha21, alpha12, rho, rng, literal_u1=False, G_known=None):
    """Simulate the two one-way measurements with N-antenna vectors.

    y_1 = sqrt(rho) exp(j alpha21) G u_2 + z_1,      alphabar21 = angle(u_2^H Gk^H y_1)   (11)
    y_2 = sqrt(rho) exp(j alpha12) G^T x_1 + z_2,    alphabar12 = angle(x_1^H Gk^* y_2)   (12)

    with z ~ CN(0, I_N); alpha21, alpha12 arrays (one entry per realization).
    The APs compute u_2, x_1 and the combiners from Gk = G_known (default: G;
    the paper's remark: G known up to a common phase suffices, the phase
    cancels in alphabar12 - alphabar21). Returns (alphabar21, alphabar12).
    x_1 = conj(u_1) unless literal_u1.
    """
    G = np.atleast_2d(np.asarray(G, dtype=np.complex128))
    Gk = G if G_known is None else np.atleast_2d(np.asarray(G_known, dtype=np.complex128))
    x1, u2 = sync_vectors(Gk, literal_u1)
    a21 = np.asarray(alpha21, dtype=np.float64)
    a12 = np.asarray(alpha12, dtype=np.float64)
    n = G.shape[0]
    sr = math.sqrt(rho)

    def cn(shape):
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)

    y1 = sr * np.exp(1j * a21)[..., None] * (G @ u2) + cn(a21.shape + (n,))
    y2 = sr * np.exp(1j * a12)[..., None] * (G.T @ x1) + cn(a12.shape + (n,))
    comb1 = (Gk @ u2).conj()           # u_2^H Gk^H
    comb2 = (Gk.T @ x1).conj()         # x_1^H Gk^*
    return np.angle(y1 @ comb1), np.angle(y2 @ comb2)


def one_way_mse_theory(G, rho):
    """The paper's approximation of each one-way MSE: 1 / (2 rho ||G||_op^2)."""
    return 1.0 / (2.0 * rho * np.linalg.norm(np.atleast_2d(G), 2) ** 2)


def g_norms(N, n, rng, literal_u1=False):
    """n draws of G ~ CN(0, 1) (N x N): (||G||_op^2, gain^2 of the AP 1 -> AP 2
    leg). The scalar sufficient statistic of (11)-(12): u^H G^H y =
    sqrt(rho) e^{j alpha} g^2 + CN(0, g^2), g = ||G u_2|| = sigma_1 (and
    ||G^T x_1||), so angle = alpha + angle(sqrt(rho) g + CN(0, 1))."""
    s1 = np.empty(n)
    g12 = np.empty(n)
    for m in range(n):
        G = (rng.standard_normal((N, N)) + 1j * rng.standard_normal((N, N))) / math.sqrt(2.0)
        x1, _ = sync_vectors(G, literal_u1)
        s1[m] = np.linalg.norm(G, 2) ** 2
        g12[m] = np.linalg.norm(G.T @ x1) ** 2
    return s1, g12


# ----------------------------------------------------------------------------
# slot schedules
# ----------------------------------------------------------------------------

@dataclass
class SlotSchedule:
    """Per-sample (p = 1..tau_c, array index p - 1) flags of one slot type."""
    a1: np.ndarray          # AP 1 transmits DL data
    a2: np.ndarray          # AP 2 transmits DL data
    pilots: list            # [(p, ap1_sends, ap2_sends)] demodulation pilots
    sync21: list = field(default_factory=list)   # samples of the AP 2 -> AP 1 sync
    sync12: list = field(default_factory=list)   # samples of the AP 1 -> AP 2 sync

    def data_samples(self):
        return np.flatnonzero(self.a1 | self.a2) + 1


def schedules(sp, rd):
    """(conventional, shifted) SlotSchedule of the reading."""
    tc, g, s = sp.tau_c, sp.tau_g, rd.tau_s
    i1, i2 = sp.i1, sp.i2
    p = np.arange(1, tc + 1)
    dl1 = (p >= i1 + g + 1) & (p <= i2)                 # AP 1 (and conventional AP 2)
    pd = i1 + g + 1                                      # demod pilot: first DL sample
    conv_a = dl1 & (p != pd)
    conv = SlotSchedule(conv_a.copy(), conv_a.copy(), [(pd, True, True)])

    dl2 = (p >= i1 - s + 1) & (p <= i2 - s - g)          # AP 2 shifted earlier
    s21 = list(range(i1 - s + 1, i1 + 1))
    s12 = list(range(i2 - s + 1, i2 + 1))
    a1 = dl1 & (p != pd) & ~np.isin(p, s12)
    a2 = dl2 & (p != pd) & ~np.isin(p, s21)
    pilots = [(pd, True, bool(dl2[pd - 1]))]
    if rd.shifted_pilot:
        p2 = i1 + 1                                      # AP 2's first DL data sample
        a2 &= p != p2
        pilots.insert(0, (p2, False, True))
    if rd.shifted_slot == "ue_guard":
        # the users follow the conventional slot: they transmit uplink up to i1
        # and switch during the guard, so nothing AP 2 sends before AP 1's
        # downlink period reaches a listening user
        a2 &= dl1
    elif rd.shifted_slot == "joint":
        both = a1 & a2
        a1, a2 = both.copy(), both.copy()
    return conv, SlotSchedule(a1, a2, pilots, s21, s12)


# ----------------------------------------------------------------------------
# rate (26)
# ----------------------------------------------------------------------------

def rate_26(E1, E2, a1, a2, sp):
    """Achievable rate (26) in bit/s/Hz for identical beta, eta, gamma at both APs.

    E1, E2: E[Delta_{k,1,i}], E[Delta_{k,2,i}] (complex arrays, broadcast);
    a1, a2: 0/1 activity of AP 1 / AP 2 at those samples.
    """
    N, rho, eta, gam, beta = sp.N, sp.rho_ap, sp.eta, sp.gamma, sp.beta
    a1 = np.asarray(a1, dtype=np.float64)
    a2 = np.asarray(a2, dtype=np.float64)
    num = N * rho * eta * gam * np.abs(a1 * E1 + a2 * E2) ** 2
    bu = N * rho * eta * gam * (a1 * (1.0 - np.abs(E1) ** 2) + a2 * (1.0 - np.abs(E2) ** 2))
    ui = rho * beta * (a1 + a2) * (sp.K * eta)
    return np.log2(1.0 + num / (bu + ui + 1.0))


# ----------------------------------------------------------------------------
# Monte Carlo of the frame
# ----------------------------------------------------------------------------

def _cis(x):
    """exp(j x) as complex64 (phases in float32: 1e-6 rad is far below the
    Monte Carlo resolution of E[Delta])."""
    x = np.asarray(x, dtype=np.float32)
    out = np.empty(x.shape, dtype=np.complex64)
    out.real = np.cos(x)
    out.imag = np.sin(x)
    return out


class _Wiener:
    """Two standard Wiener processes (unit increment variance per sample),
    sampled at non-decreasing absolute times from 0 (where they are 0), one
    column per realization."""

    def __init__(self, R, rng):
        self.R = R
        self.rng = rng
        self.t = 0
        self.w = np.zeros((2, R))

    def at(self, times):
        times = np.asarray(times, dtype=np.int64)
        gaps = np.diff(np.concatenate(([self.t], times)))
        if np.any(gaps < 0):  # a repeated time (K = 1 samples at 0 first) has gap 0
            raise RuntimeError("times must not decrease")
        inc = self.rng.standard_normal((2, len(times), self.R)) * np.sqrt(gaps)[None, :, None]
        out = self.w[:, None, :] + np.cumsum(inc, axis=1)
        self.t = int(times[-1])
        self.w = out[:, -1, :].copy()
        return out                                      # (2, len(times), R)


def _measure(nu1, nu2, samples21, samples12, amp21, amp12, rng, gaussian=False):
    """alphabar of (13) from the sync samples, via the scalar sufficient statistic.

    nu1, nu2: dict p -> (C, R) phases; amp = sqrt(rho) g (C, R). Each sync sample
    gives sqrt(rho) g e^{j alpha_p} + CN(0, 1) after combining (see g_norms);
    the tau_s samples are summed and the angle taken. gaussian: the paper's
    approximate model (16) instead, alpha + N(0, 1 / (2 tau_s amp^2)) per
    direction, alpha taken at the last sync sample (i1, i2 of (10))."""
    shape = amp21.shape
    if gaussian:
        n21, n12 = len(samples21), len(samples12)
        e21 = rng.standard_normal(shape) / np.sqrt(2.0 * n21 * amp21 ** 2)
        e12 = rng.standard_normal(shape) / np.sqrt(2.0 * n12 * amp12 ** 2)
        p21, p12 = samples21[-1], samples12[-1]
        return (nu2[p12] - nu1[p12] + e12) - (nu1[p21] - nu2[p21] + e21)

    def cn():
        return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)) / math.sqrt(2.0)

    y21 = sum(amp21 * np.exp(1j * (nu1[p] - nu2[p])) + cn() for p in samples21)
    y12 = sum(amp12 * np.exp(1j * (nu2[p] - nu1[p])) + cn() for p in samples12)
    return np.angle(y12) - np.angle(y21)


def _psi(mode, phi1, phi2, theta2, ap1_sends, ap2_sends):
    """UE phase references psi_k at a demodulation pilot, (C, M, R, K).

    phi_l = nu_l(pilot) + nu_l(sample k) per user, (C, R, K); theta2 (C, M, R).
    "ap1": psi = phi^(1) (AP 1's phase, noiseless) when AP 1 sends the pilot;
    "composite": psi = -angle(sum of the unit-gain contributions the user
    receives), i.e. the phase of the composite gain (equal amplitudes: same
    beta, eta, gamma at both APs). A pilot from AP 2 alone gives phi2 - theta2."""
    th = theta2[..., None]
    if ap1_sends and (mode == "ap1" or not ap2_sends):
        return np.broadcast_to(phi1[:, None], th.shape[:-1] + (phi1.shape[-1],))
    if not ap1_sends:
        return phi2[:, None] - th
    # -angle(e^{-j phi1} + e^{j(theta2 - phi2)}) = phi1 - wrap(theta2 - phi2 + phi1) / 2
    return phi1[:, None] - 0.5 * wrap(th - phi2[:, None] + phi1[:, None])


def _slot_expectations(nu1, nu2, sched, theta2, psi_prev, mode, K):
    """E[Delta] of both APs on the data samples of one slot.

    nu1, nu2: (C, tau_c, R) phases of the slot; theta2 (C, M, R) in force on the
    slot's DL samples; psi_prev: psi of the last pilot of the previous slot.
    Returns (samples, E1, E2, psi_last) with E (C, M, P, K). The mean over the
    R realizations factorizes, E[Delta_{k,l,p}] = mean_r A_l[r, p] B_l[r, k]:
    A_1 = exp(-j nu1_p), B_1 = exp(j(psi_k - nu1_k)), A_2 = exp(-j nu2_p),
    B_2 = exp(j(theta2 - nu2_k + psi_k)): one matrix product per (config, method)."""
    C, tc, R = nu1.shape
    ks = np.arange(K)
    samples = sched.data_samples()
    pil = sorted(sched.pilots)
    nu1k = np.moveaxis(nu1[:, ks, :], 1, 2)                             # (C, R, K)
    nu2k = np.moveaxis(nu2[:, ks, :], 1, 2)
    psi_at = {}
    if mode != "ideal":
        for (p, s1, s2) in pil:
            psi_at[p] = _psi(mode, nu1[:, p - 1, :, None] + nu1k, nu2[:, p - 1, :, None] + nu2k,
                             theta2, s1, s2)
    M = theta2.shape[1]
    E1 = np.empty((C, M, len(samples), K), dtype=np.complex128)
    E2 = np.empty_like(E1)
    groups = {}
    for j, p in enumerate(samples):
        before = [q for (q, _, _) in pil if q < p]
        groups.setdefault(before[-1] if before else None, []).append(j)
    for key, idx in groups.items():
        ps = samples[idx] - 1
        if mode == "ideal":
            # psi_{k,i} = phi^(1)_{k,i}: Delta_1 = 1, Delta_2 = exp(j(theta2 - phi2 + phi1))
            A = _cis(nu1[:, ps, :] - nu2[:, ps, :])[:, None]
            B = _cis(theta2[..., None] + (nu1k - nu2k)[:, None])
            E1[:, :, idx, :] = 1.0
            E2[:, :, idx, :] = (A @ B) / R
            continue
        psi = psi_at[key] if key is not None else psi_prev
        if psi is None:             # no pilot seen yet (only in the slot before the
            E1[:, :, idx, :] = np.nan   # evaluated frame, whose rates are not used)
            E2[:, :, idx, :] = np.nan
            continue
        A1 = _cis(-nu1[:, ps, :])[:, None]                                # (C, 1, P, R)
        A2 = _cis(-nu2[:, ps, :])[:, None]
        B1 = _cis(psi - nu1k[:, None])                                    # (C, M, R, K)
        B2 = _cis(theta2[..., None] - nu2k[:, None] + psi)
        E1[:, :, idx, :] = (A1 @ B1) / R
        E2[:, :, idx, :] = (A2 @ B2) / R
    psi_last = psi_at[pil[-1][0]] if mode != "ideal" else None
    return samples, E1, E2, psi_last


def burn_in_frames(kappa_min):
    """Frames run before the evaluated one: 8 time constants 1/kappa of the
    steady-state Kalman gain (the prior error decays as (1 - kappa)^n), at
    least 10, at most 400."""
    return int(min(400, max(10, math.ceil(8.0 / max(kappa_min, 1e-3)))))


_G_CACHE = {}


def _g_pool(N, n, seed, literal_u1):
    key = (N, n, seed, literal_u1)
    if key not in _G_CACHE:
        _G_CACHE.clear()
        _G_CACHE[key] = g_norms(N, n, np.random.default_rng([seed, 0x6a]), literal_u1)
    return _G_CACHE[key]


def simulate_se(F, configs, sp=SystemParams(), reading=None, frames=10_000, seed=0,
                g_pool=256, methods=("direct", "kalman"), burn_in=None, return_details=False):
    """Average per-UE SE (27) of the broken-TDD scheme for frames of F slots.

    configs: list of (c_nu, snr_ap_db). Returns {method: array (len(configs),)}
    in bit/s/Hz (and a details dict if return_details). Methods: "direct"
    (theta_2 = alphabar of (13)) and "kalman" (theta_2 = alphahat of (18)).

    E[Delta] is the mean over `frames` independent realizations of a chain of
    frames, per sample position of the last frame and per user: the chain
    starts with uniform LO phases, runs `burn_in` frames (by default 8 time
    constants of the steady-state Kalman gain; only the samples the
    measurement needs are drawn) and then the evaluated frame, sample by
    sample. G is drawn `g_pool` times (unit variance, scaled by SNR_AP) and
    cycled over the realizations. The same random numbers serve every config
    and method (common random numbers)."""
    sp = sp.validate()
    rd = (reading or READINGS["paper"]).validate(sp)
    F = int(F)
    if F < 1:
        raise ValueError(f"F must be >= 1, got {F}")
    R = int(frames)
    if R < 2:
        raise ValueError(f"frames must be >= 2, got {frames}")
    rng = np.random.default_rng([seed, F])
    C = len(configs)
    cnu = np.array([c for c, _ in configs], dtype=np.float64)
    snr = 10.0 ** (np.array([s for _, s in configs], dtype=np.float64) / 10.0)
    sig = np.sqrt([sigma_nu2(c, sp) for c in cnu])                    # (C,)
    conv, brk = schedules(sp, rd)
    M = len(methods)
    for m in methods:
        if m not in ("direct", "kalman"):
            raise ValueError(f"unknown method {m!r}")

    s1, g12 = _g_pool(sp.N, int(g_pool), seed, rd.literal_u1)
    s1 = np.resize(s1, R)
    g12 = np.resize(g12, R)
    amp21 = np.sqrt(snr[:, None] * s1[None, :])                        # sqrt(rho) sigma_1
    amp12 = np.sqrt(snr[:, None] * g12[None, :])
    sz, sx = np.array([kalman_variances(F, c, sp) for c in cnu]).T      # (C,)
    sz = sz[:, None]
    sx = sx[:, None]
    smu = 1.0 / (rd.tau_s * snr[:, None] * s1[None, :])                 # (C, R), the paper's
    kf = WrappedPhaseKalman(sz, sx, smu, estimate=0.0, P0=math.pi ** 2 / 3.0)
    if burn_in is None:
        P = WrappedPhaseKalman.riccati_fixed_point(sz, sx, smu)
        burn_in = burn_in_frames(float(np.min((P + sx) / (P + 3 * sx + smu))))
    B = int(burn_in)

    wien = _Wiener(R, rng)
    off = rng.uniform(-np.pi, np.pi, (2, 1, 1, R))                      # initial LO phases
    kh = sp.K // 2
    tc = sp.tau_c
    sparse = sorted({kh} | set(brk.sync21) | set(brk.sync12))
    est = {m: np.zeros((C, R)) for m in methods}                        # alphahat per method
    est_prev = dict(est)
    pre_slot = B * F - 1                                                # slot before the eval frame
    psi_prev = None
    se_sum = np.zeros((C, M, sp.K))
    err_log = {m: [] for m in methods}
    for f in range(B + 1):
        first_slot = f * F
        dense = [s for s in range(first_slot, first_slot + F) if f == B or s == pre_slot]
        times, where = [], {}
        for s in range(first_slot, first_slot + F):
            ps = list(range(1, tc + 1)) if s in dense else (sparse if s == first_slot else [])
            if s in dense and s == first_slot and kh == 0:
                ps = [0] + ps  # K = 1: floor(K / 2) = 0, the slot's start
            where[s] = (len(times), ps)
            times.extend(s * tc + p for p in ps)
        W = wien.at(times)
        nu = off + sig[None, :, None, None] * W[:, None, :, :]          # (2, C, T, R)

        # --- sync slot: measurement (13) and estimate update at i2 --------
        start, ps = where[first_slot]
        nu1p = {p: nu[0, :, start + j] for j, p in enumerate(ps)}
        nu2p = {p: nu[1, :, start + j] for j, p in enumerate(ps)}
        meas = _measure(nu1p, nu2p, brk.sync21, brk.sync12, amp21, amp12, rng,
                        rd.measurement == "gaussian")
        truth = (nu2p[sp.i2] - nu1p[sp.i2]) + (nu2p[kh] - nu1p[kh])   # alpha_n
        est_prev = dict(est)
        if "direct" in methods:
            est["direct"] = wrap(meas)
        if "kalman" in methods:
            est["kalman"] = np.asarray(kf.update(meas))
        if return_details:
            for m in methods:
                err_log[m].append(wrap(est[m] - truth))

        # --- dense slots: E[Delta] and the rate (26) -----------------------
        for s in dense:
            start, ps_s = where[s]
            start += 1 if ps_s[0] == 0 else 0  # the samples 1 .. tc
            nu1 = nu[0, :, start:start + tc, :]                         # (C, tc, R)
            nu2 = nu[1, :, start:start + tc, :]
            is_sync = s == first_slot
            sched = brk if is_sync else conv
            # theta_2 in force on the DL samples of slot s (all of them before i2)
            th = np.stack([(est_prev[m] if is_sync else est[m]) for m in methods], axis=1)
            samples, E1, E2, psi_prev = _slot_expectations(nu1, nu2, sched, th, psi_prev,
                                                           rd.ue_phase, sp.K)
            if f == B:
                a1 = sched.a1[samples - 1][:, None]
                a2 = sched.a2[samples - 1][:, None]
                r = rate_26(E1, E2, a1, a2, sp)                         # (C, M, P, K)
                if not np.all(np.isfinite(r)):
                    raise RuntimeError("data sample without a phase reference")
                se_sum += r.sum(axis=2)
    se = se_sum.mean(axis=2) / (F * tc)                                 # (C, M), mean over users
    out = {m: se[:, j] for j, m in enumerate(methods)}
    if return_details:
        errs = {m: np.array(v) for m, v in err_log.items()}             # (frames, C, R)
        details = {
            "burn_in": B,
            "kalman_P": np.asarray(kf.P),
            "kalman_P_steady": WrappedPhaseKalman.riccati_fixed_point(sz, sx, smu),
            "sigma_zeta2": sz[:, 0], "sigma_xi2": sx[:, 0],
            "sigma_mu2_mean": smu.mean(axis=1),
            "error_var": {m: np.mean(e[B // 2:] ** 2, axis=(0, 2)) for m, e in errs.items()},
        }
        return out, details
    return out


def ap1_only_se(configs, sp=SystemParams(), frames=10_000, seed=0):
    """AP-1-only baseline (tau_s = 0, a_2 = 0): AP 1's conventional slot with
    its demodulation pilot; E[Delta] by Monte Carlo (it equals
    exp(-sigma_nu^2 (p - p_d) / 2) at sample p). Independent of F."""
    sp = sp.validate()
    R = int(frames)
    rng = np.random.default_rng([seed, 0])
    cnu = np.array([c for c, _ in configs], dtype=np.float64)
    sig = np.sqrt([sigma_nu2(c, sp) for c in cnu])
    conv, _ = schedules(sp, READINGS["simple"])
    W = _Wiener(R, rng).at(np.arange(1, sp.tau_c + 1))
    nu1 = sig[:, None, None] * W[0][None]
    nu2 = np.zeros_like(nu1)
    sched = SlotSchedule(conv.a1, np.zeros_like(conv.a2),
                         [(p, True, False) for p, _, _ in conv.pilots])
    samples, E1, _, _ = _slot_expectations(nu1, nu2, sched, np.zeros((len(configs), 1, R)),
                                           None, "ap1", sp.K)
    r = rate_26(E1, 0.0, 1.0, 0.0, sp)
    return r.sum(axis=2).mean(axis=-1)[:, 0] / sp.tau_c


def ap1_only_se_theory(configs, sp=SystemParams()):
    """Closed form of the AP-1-only baseline: E[Delta] = exp(-sigma_nu^2 (p - p_d) / 2)."""
    conv, _ = schedules(sp, READINGS["simple"])
    pd = conv.pilots[0][0]
    samples = conv.data_samples()
    out = []
    for c, _ in configs:
        E = np.exp(-sigma_nu2(c, sp) * (samples - pd) / 2.0)
        out.append(float(np.sum(rate_26(E, 0.0, 1.0, 0.0, sp)) / sp.tau_c))
    return np.array(out)
