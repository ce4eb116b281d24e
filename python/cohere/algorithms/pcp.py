# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase-coded pilots (PCP) for coherent over-the-air computation (pure numpy).

Reference: A. Sahin, "On the Feasibility of Distributed Phase Synchronization
for Coherent Signal Superposition" (arXiv 2506.22252); digest in
docs/papers/pcp-oac.md. Units everywhere: seconds, Hz, Hz^2, m/s, radians
(degrees only in functions whose name says so). Node indices k are 1-based,
k = 1..K, as in the paper; node k = 1 is the worst node of the reversed schedule.

The four steps (pilot p, |p| = 1; noise omega ~ CN(0, sigma^2), sigma^2 = 1/SNR)
------------------------------------------------------------------------------
1. request, BS -> all nodes (DL):  thh1 = angle(p* y_k(T1))
2. response, node -> BS (UL):      node sends p exp(+j thh1); thh2 = angle(p* r_k(T2))
3. feedback, BS -> node (DL):      BS sends p exp(j (theta_des - thh2)); thh3 = angle(p* y_k(T3))
4. aggregation, all nodes (UL):    node sends d_{k,m} exp(+j thh3), received at T4 + m Ts

with y_{k,t} = a^d e^{j phi^d_{k,t}} e^{+j(2 pi Df_k t + delta_k)} x + omega (DL) and
r_{k,t} = a^u e^{j phi^u_{k,t}} e^{-j(2 pi Df_k t + delta_k)} x + omega (UL),
phi_{k,t} = phi_{k,0} + 2 pi t v_k cos(alpha_k) / lambda. The received phase of
node k's component of symbol m, minus angle(d_{k,m}), is

    theta_des + th_cfo + th_mob + th_noise,
    th_cfo   = 2 pi Df_k (T3 - T4 + T2 - T1 - m Ts)                           (6)
    th_mob   = 2 pi v_k cos(alpha_k) (T3 - T1 + T4 - T2 + m Ts) / lambda      (7)
    th_noise = psi3 - psi2 - psi1

Notes on the paper's text (checked against the original, where it and the
digest were compared):

* (6): the literal derivation gives "- m Ts" (the node's CFO keeps rotating the
  UL during step 4: -2 pi Df (T4 + m Ts)); the paper prints "+ m Ts". The sign
  is immaterial for (8) (squared); the simulation here is literal and so has
  the minus sign.
* (7): the paper writes phi^d at T4 + m Ts and T2 and phi^u at T3 and T1; the
  literal derivation gives phi^u(T4 + m Ts) - phi^u(T2) + phi^d(T3) - phi^d(T1).
  Both give the same value because the model uses one Doppler slope for UL and
  DL (and the initial phases phi_0 cancel either way).
* Noise, Sec. III-A1: the text assigns omega1, omega3 ~ CN(sigma_BS^2) and
  omega2 ~ CN(sigma_UE^2), but steps 1 and 3 are received at the node (UE) and
  step 2 at the BS; (9) itself, sigma_BS^2/(2 a^u) + sigma_UE^2/(2 a^d) +
  sigma_UE^2/(2 a^d), follows the physical assignment, and only that one gives
  the paper's low-SNR floor of "about 15 deg" (14.0 deg; the text's labels
  would give 18.6 deg). The simulation uses the physical assignment
  (UE noise in steps 1 and 3, BS noise in step 2).
* (9) divides sigma^2 by 2 a; the small-angle variance of angle(a + n) is
  sigma^2 / (2 a^2) (the digest writes a^2). With a^u = a^d = 1 (the paper's
  setting) both agree; the code uses a^2.
* sigma^2 in (9) is the COMPLEX noise variance (omega ~ CN(0, sigma^2),
  sigma^2 / 2 per real dimension) with SNR = 1/sigma^2: each pilot phase has
  variance sigma^2 / 2, so (9) = sigma_BS^2 / 2 + sigma_UE^2 at a = 1. This is
  what reproduces the digest's 2.22 deg (30/30 dB) and 14.0 deg (UE 20 dB,
  BS 10 dB).
* alpha_k ~ U[0, 2 pi] (Sec. II). (10): E[cos^2 alpha] = 1/2, so
  E|th_mob|^2 = (2 pi / lambda)^2 tau^2 v^2 / 2 = 2 pi^2 v^2 tau^2 / lambda^2.
  (11): v Rayleigh with mean vbar has scale s = vbar sqrt(2/pi) and
  E[v^2] = 2 s^2 = 4 vbar^2 / pi, so E|th_mob|^2 = 8 pi vbar^2 tau^2 / lambda^2;
  v cos(alpha) is then exactly N(0, s^2) (a Rayleigh radius projected on a
  uniform angle), which is why (13) is exact for the CFO and mobility parts.
* The paper prints Tofdm = "1/60e3 us"; it is 1/60e3 s (Ts = 18.75 us).
* Digest items 3 and 4 (coherence lengths 84 and 207 symbols for
  sigma_cfo^2 = 1000 and 100, K = 20, 30 dB) do not state the speed: they are
  reproduced with vbar = 1.5 m/s (the Fig. 5 high-mobility curves); vbar = 0.1
  gives 93 and 293. The paper reads "M = 80" and "200" off Fig. 5.
* Digest item 2 quotes an exact-angle Monte Carlo of 14.45 deg; with the item-1
  parameters (K = 5, vbar = 0.1) the Monte Carlo here gives 14.39 deg
  (2e6 trials) and sigma_err_exact_angle 14.38 deg; 14.44 deg needs vbar = 1.5.
  The 0.06 deg gap is within the digest's rounding / Monte Carlo noise.
"""

import dataclasses
import math
from dataclasses import dataclass
from typing import Optional

import numpy as np

__all__ = [
    "C_LIGHT", "PcpParams", "PAPER", "ORDERS", "Schedule", "schedule", "timeline",
    "total_duration", "rate_oac", "rate_oac_limit", "rate_traditional",
    "cfo_lag", "mobility_lag", "mobility_tau",
    "var_cfo", "var_cfo_lag", "var_noise", "var_mobility_fixed", "var_mobility_rayleigh",
    "sigma_err", "rmse_deg", "prob_within", "prob_exceed", "rmse_wrapped",
    "prob_exceed_wrapped", "coherence_length",
    "phase_var_exact", "sigma_err_exact_angle", "snr_db_to_noise_var",
    "rayleigh_scale", "simulate_four_steps", "rmse_of", "wrap",
]

C_LIGHT = 299_792_458.0  # m/s


@dataclass(frozen=True)
class PcpParams:
    """Physical parameters of the paper's numerical setup (Sec. IV).

    fc        carrier frequency (Hz), 1.8 GHz
    t_ofdm    OFDM symbol duration without CP (s), 1/60e3 (60 kHz spacing)
    t_cp      cyclic prefix (s); None: t_ofdm / 8
    t_p       packet duration of each PCP step (s); None: Ts (= 18.75 us)
    g_u       node response time (s), 16 us
    g_d       BS response time (s), 16 us
    a_u, a_d  UL / DL channel amplitudes, 1
    theta_des desired phase at the BS (rad), 0
    c         speed of light (m/s)
    """

    fc: float = 1.8e9
    t_ofdm: float = 1.0 / 60e3
    t_cp: Optional[float] = None
    t_p: Optional[float] = None
    g_u: float = 16e-6
    g_d: float = 16e-6
    a_u: float = 1.0
    a_d: float = 1.0
    theta_des: float = 0.0
    c: float = C_LIGHT

    @property
    def tcp(self):
        """Cyclic prefix duration (s)."""
        return self.t_ofdm / 8.0 if self.t_cp is None else float(self.t_cp)

    @property
    def ts(self):
        """OFDM symbol duration with CP, Ts = Tofdm + Tcp (s)."""
        return self.t_ofdm + self.tcp

    @property
    def tp(self):
        """PCP packet duration Tp (s); the paper uses Tp = Ts."""
        return self.ts if self.t_p is None else float(self.t_p)

    @property
    def wavelength(self):
        """lambda = c / fc (m)."""
        return self.c / self.fc

    def replace(self, **changes):
        """A copy with some fields changed (dataclasses.replace)."""
        return dataclasses.replace(self, **changes)


PAPER = PcpParams()

ORDERS = ("reversed", "naive")


# ----------------------------------------------------------------------------
# schedule and computation rate (Sec. III-A, III-A4)
# ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Schedule:
    """Reception instants of the four steps for nodes k = 1..K (arrays of K, s).

    T1: request received by the nodes; T2: node k's response received at the
    BS; T3: node k's feedback received at node k; T4: first OAC symbol received
    at the BS (symbol m at T4 + m Ts).
    """

    K: int
    order: str
    k: np.ndarray
    T1: np.ndarray
    T2: np.ndarray
    T3: np.ndarray
    T4: np.ndarray


def _check_K(K):
    if int(K) != K or K < 1:
        raise ValueError(f"K must be a positive integer, got {K!r}")
    return int(K)


def schedule(K, params=PAPER, order="reversed"):
    """The multi-user PCP schedule for K nodes.

    order="reversed" (the paper's CFO-resilient procedure, Fig. 3):
        T1_k = 0, T2_k = g_u + k Tp, T3_k = g_u + g_d + (2K + 1 - k) Tp,
        T4_k = 2 g_u + g_d + (2K + 1) Tp,
      so T2 - T1 = T4 - T3 = g_u + k Tp for every k.
    order="naive" (feedback in the same order as the responses):
        T3_k = g_u + g_d + (K + k) Tp, the rest unchanged,
      so T4 - T3 = g_u + (K + 1 - k) Tp differs from T2 - T1 except for the
      middle node k = (K + 1)/2 (and K = 1, where both orders coincide).
    """
    K = _check_K(K)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    tp, gu, gd = params.tp, params.g_u, params.g_d
    k = np.arange(1, K + 1)
    T1 = np.zeros(K)
    T2 = gu + k * tp
    if order == "reversed":
        T3 = gu + gd + (2 * K + 1 - k) * tp
    else:
        T3 = gu + gd + (K + k) * tp
    T4 = np.full(K, 2.0 * gu + gd + (2 * K + 1) * tp)
    return Schedule(K, order, k, T1, T2, T3, T4)


def timeline(K, M, params=PAPER, order="reversed"):
    """Explicit packet timeline of one PCP round plus M OAC symbols.

    Packets are placed one after the other (each PCP packet lasts Tp, each
    OAC symbol after the first Ts; the first OAC symbol is a Tp packet):
    the request ends at t = 0 (= T1), the node in slot j answers after g_u,
    the BS starts the feedback g_d after the last response, the nodes start
    the OAC phase g_u after the last feedback. Returns a list of dicts
    {"kind", "node", "start", "end"} in time order; the reception instant of a
    packet is its end. Independent of `schedule`, used to check it and the
    total duration 2 g_u + g_d + 2 (K + 1) Tp + (M - 1) Ts.
    """
    K = _check_K(K)
    if order not in ORDERS:
        raise ValueError(f"order must be one of {ORDERS}, got {order!r}")
    tp, ts, gu, gd = params.tp, params.ts, params.g_u, params.g_d
    events = [{"kind": "request", "node": 0, "start": -tp, "end": 0.0}]
    t = gu
    for k in range(1, K + 1):
        events.append({"kind": "response", "node": k, "start": t, "end": t + tp})
        t += tp
    t += gd
    fb_order = range(K, 0, -1) if order == "reversed" else range(1, K + 1)
    for k in fb_order:
        events.append({"kind": "feedback", "node": k, "start": t, "end": t + tp})
        t += tp
    t += gu
    for m in range(int(M)):
        dur = tp if m == 0 else ts
        events.append({"kind": "oac", "node": 0, "start": t, "end": t + dur, "m": m})
        t += dur
    return events


def total_duration(K, M, params=PAPER):
    """Duration of one PCP round and M OAC symbols (s):
    2 g_u + g_d + 2 (K + 1) Tp + (M - 1) Ts (Sec. III-A4)."""
    return (2.0 * params.g_u + params.g_d + 2.0 * (K + 1) * params.tp
            + (np.asarray(M, dtype=float) - 1.0) * params.ts)


def rate_oac(K, M, params=PAPER):
    """Computation rate of OAC with PCP, R_OAC = M Tofdm / total_duration
    (functions / (s Hz))."""
    return np.asarray(M, dtype=float) * params.t_ofdm / total_duration(K, M, params)


def rate_oac_limit(params=PAPER):
    """lim_{M -> inf} R_OAC = Tofdm / Ts (8/9 = 0.889 with Tcp = Tofdm/8)."""
    return params.t_ofdm / params.ts


def rate_traditional(K, Q=8, r_eff=4.0):
    """Communicate-then-compute rate, approximately r_eff / (Q K)
    (functions / (s Hz)); Q bits per parameter, r_eff bits/(s Hz)."""
    return r_eff / (Q * np.asarray(K, dtype=float))


# ----------------------------------------------------------------------------
# closed forms (8)-(13)
# ----------------------------------------------------------------------------

def _sched_k(K, k, params, order):
    sch = schedule(K, params, order)
    k = np.asarray(k)
    if np.any(k < 1) or np.any(k > sch.K):
        raise ValueError(f"node index k must be in 1..{sch.K}, got {k}")
    idx = k - 1
    return sch.T1[idx], sch.T2[idx], sch.T3[idx], sch.T4[idx]


def cfo_lag(K, k, m, params=PAPER, order="reversed"):
    """Lag multiplying 2 pi Df_k in (6), literal sign: T3 - T4 + T2 - T1 - m Ts (s).
    For the reversed schedule it is -m Ts, independent of K and k."""
    T1, T2, T3, T4 = _sched_k(K, k, params, order)
    return T3 - T4 + T2 - T1 - np.asarray(m, dtype=float) * params.ts


def mobility_lag(K, k, m, params=PAPER, order="reversed"):
    """Lag multiplying 2 pi v cos(alpha) / lambda in (7): T3 - T1 + T4 - T2 + m Ts (s)."""
    T1, T2, T3, T4 = _sched_k(K, k, params, order)
    return T3 - T1 + T4 - T2 + np.asarray(m, dtype=float) * params.ts


def mobility_tau(K, k, m, params=PAPER):
    """tau_{k,m} = 2 (g_u + g_d + (2K + 1 - k) Tp) + m Ts (s), the mobility lag
    of the reversed schedule as printed under (7), (10), (11)."""
    return (2.0 * (params.g_u + params.g_d + (2 * K + 1 - np.asarray(k)) * params.tp)
            + np.asarray(m, dtype=float) * params.ts)


def var_cfo(m, var_cfo_hz2, params=PAPER):
    """(8): E|th_cfo|^2 = 4 pi^2 m^2 Ts^2 sigma_cfo^2 (rad^2), reversed schedule;
    Df_k ~ N(0, sigma_cfo^2) (Hz^2)."""
    m = np.asarray(m, dtype=float)
    return 4.0 * math.pi ** 2 * m ** 2 * params.ts ** 2 * var_cfo_hz2


def var_cfo_lag(lag, var_cfo_hz2):
    """Generalisation of (8) to any schedule: 4 pi^2 lag^2 sigma_cfo^2 (rad^2)."""
    return 4.0 * math.pi ** 2 * np.asarray(lag, dtype=float) ** 2 * var_cfo_hz2


def snr_db_to_noise_var(snr_db):
    """sigma^2 = 1 / SNR: complex noise variance (omega ~ CN(0, sigma^2)) for a
    unit-amplitude pilot. None or +inf -> 0 (no noise)."""
    if snr_db is None:
        return 0.0
    snr_db = float(snr_db)
    if math.isinf(snr_db) and snr_db > 0:
        return 0.0
    return 10.0 ** (-snr_db / 10.0)


def var_noise(snr_ue_db, snr_bs_db, params=PAPER):
    """(9): E|th_noise|^2 = sigma_BS^2 / (2 a_u^2) + 2 sigma_UE^2 / (2 a_d^2) (rad^2).

    sigma^2 = 1/SNR is the complex noise variance (small-angle phase variance
    sigma^2 / (2 a^2) per pilot). Steps 1 and 3 are received at the node (UE),
    step 2 at the BS. See the module notes for the paper's a vs a^2 and the
    swapped noise labels in its text.
    """
    s_ue = snr_db_to_noise_var(snr_ue_db)
    s_bs = snr_db_to_noise_var(snr_bs_db)
    return s_bs / (2.0 * params.a_u ** 2) + 2.0 * s_ue / (2.0 * params.a_d ** 2)


def var_mobility_fixed(v, tau, params=PAPER):
    """(10): fixed speed v (m/s), alpha ~ U[0, 2 pi]:
    E|th_mob|^2 = 2 pi^2 v^2 tau^2 / lambda^2 (rad^2)."""
    tau = np.asarray(tau, dtype=float)
    return 2.0 * math.pi ** 2 * v ** 2 * tau ** 2 / params.wavelength ** 2


def var_mobility_rayleigh(vbar, tau, params=PAPER):
    """(11): Rayleigh speed with mean vbar (m/s), alpha ~ U[0, 2 pi]:
    E|th_mob|^2 = 8 pi vbar^2 tau^2 / lambda^2 (rad^2)."""
    tau = np.asarray(tau, dtype=float)
    return 8.0 * math.pi * vbar ** 2 * tau ** 2 / params.wavelength ** 2


def _var_total(K, k, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed, speed_model,
               params, order, noise_var):
    if speed_model not in ("rayleigh", "fixed"):
        raise ValueError(f"speed_model must be 'rayleigh' or 'fixed', got {speed_model!r}")
    v_cfo = var_cfo_lag(cfo_lag(K, k, m, params, order), var_cfo_hz2)
    tau = mobility_lag(K, k, m, params, order)
    if speed_model == "rayleigh":
        v_mob = var_mobility_rayleigh(speed, tau, params)
    else:
        v_mob = var_mobility_fixed(speed, tau, params)
    return v_cfo + v_mob + noise_var


def sigma_err(K, k, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed, speed_model="rayleigh",
              params=PAPER, order="reversed"):
    """(12): RMSE_k = sigma_err_{k,m} = sqrt((8) + (9) + (10 or 11)) (rad).

    speed is vbar (speed_model="rayleigh", (11)) or the fixed v ("fixed", (10)).
    For order="naive" the CFO and mobility terms use the general lags of (6)
    and (7) (4 pi^2 sigma_cfo^2 (T3 - T4 + T2 - T1 - m Ts)^2 etc.); for the
    reversed schedule they reduce to (8) and (10)/(11) exactly.
    Broadcasts over k and m.
    """
    return np.sqrt(_var_total(K, k, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed,
                              speed_model, params, order,
                              var_noise(snr_ue_db, snr_bs_db, params)))


def rmse_deg(*args, **kwargs):
    """sigma_err (12) in degrees (same arguments)."""
    return np.degrees(sigma_err(*args, **kwargs))


_erf = np.vectorize(math.erf, otypes=[float])
_erfc = np.vectorize(math.erfc, otypes=[float])


def prob_within(theta, sigma):
    """(13): Pr(|err| <= theta) = 2 Phi(theta / sigma) - 1 = erf(theta / (sqrt(2) sigma))
    for a zero-mean Gaussian error of standard deviation sigma (same unit as theta)."""
    return _erf(np.asarray(theta, dtype=float) / (math.sqrt(2.0) * np.asarray(sigma, dtype=float)))


def prob_exceed(theta, sigma):
    """1 - (13): Pr(|err| > theta) = erfc(theta / (sqrt(2) sigma))."""
    return _erfc(np.asarray(theta, dtype=float) / (math.sqrt(2.0) * np.asarray(sigma, dtype=float)))


def _wrapped_terms(sigma):
    """n = 1..N and exp(-n^2 sigma^2 / 2) (E[cos n x], x ~ N(0, sigma^2)), N
    large enough that the rest is below 1e-12 of the first."""
    n_max = int(min(200_000, math.ceil(8.0 / max(float(sigma), 4e-5)) + 1))
    n = np.arange(1, n_max + 1, dtype=float)
    return n, np.exp(-0.5 * n * n * float(sigma) ** 2)


def rmse_wrapped(sigma):
    """RMSE (rad) of a zero-mean Gaussian phase error of standard deviation
    sigma reported in (-pi, pi] (what a phase measurement gives), exact from
    the Fourier series theta^2 = pi^2/3 + 4 sum (-1)^n cos(n theta) / n^2:
    E[wrap(x)^2] = pi^2/3 + 4 sum (-1)^n exp(-n^2 sigma^2/2) / n^2. Equals
    sigma while the error stays well inside +-pi (sigma < 0.5: to 1e-12
    relative) and tends to pi / sqrt(3) (uniform) for large sigma, where (12)
    itself grows without bound."""
    sigma = float(sigma)
    if not sigma > 0:
        return 0.0
    if sigma < 0.5:
        return sigma  # the wrapped tails are below exp(-pi^2 / (2 sigma^2)) < 3e-9
    n, c = _wrapped_terms(sigma)
    msq = math.pi ** 2 / 3.0 + 4.0 * float(np.sum((-1.0) ** n * c / (n * n)))
    return math.sqrt(max(msq, 0.0))


def prob_exceed_wrapped(theta, sigma):
    """Pr(|wrap(x)| > theta), x ~ N(0, sigma^2), 0 <= theta <= pi: from the
    wrapped normal's density (1 + 2 sum exp(-n^2 sigma^2/2) cos n t) / (2 pi),
    1 - theta/pi - (2/pi) sum exp(-n^2 sigma^2/2) sin(n theta) / n. Equals
    prob_exceed (13) while nothing wraps."""
    theta, sigma = float(theta), float(sigma)
    if not 0.0 <= theta <= math.pi:
        raise ValueError(f"theta must be in 0..pi, got {theta!r}")
    if not sigma > 0:
        return 0.0 if theta > 0 else 1.0
    if sigma < 0.5:
        return float(prob_exceed(theta, sigma))
    n, c = _wrapped_terms(sigma)
    within = theta / math.pi + (2.0 / math.pi) * float(np.sum(c * np.sin(n * theta) / n))
    return min(1.0, max(0.0, 1.0 - within))


def coherence_length(threshold_rad, K, k, var_cfo_hz2, snr_ue_db, snr_bs_db, speed,
                     speed_model="rayleigh", params=PAPER, order="reversed", m_max=1_000_000):
    """Last OFDM symbol index m with RMSE (12) <= threshold_rad; -1 if even m = 0
    exceeds it. (The number of usable symbols is this + 1; the paper quotes
    "M = 80" / "M = 200" for the digest's 84 / 207.) RMSE is increasing in m
    for m >= 0 with the reversed schedule; for other schedules the first
    crossing is returned."""
    block, start = 4096, 0
    while start <= m_max:
        m = np.arange(start, min(start + block, m_max + 1))
        s = sigma_err(K, k, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed, speed_model,
                      params, order)
        over = np.nonzero(s > threshold_rad)[0]
        if over.size:
            return int(m[over[0]]) - 1
        start += block
        block *= 2
    return int(m_max)


# ----------------------------------------------------------------------------
# exact (no small-angle approximation) phase variance of a noisy pilot
# ----------------------------------------------------------------------------

def phase_var_exact(snr_linear, n_grid=20001):
    """E[psi^2] of psi = angle(a + omega) - 0, omega ~ CN(0, a^2 / snr) (rad^2).

    Uses the phase density of a constant plus circular Gaussian noise,
    p(psi) = e^{-rho}/(2 pi) + sqrt(rho) cos(psi) e^{-rho sin^2 psi}
             (1 + erf(sqrt(rho) cos psi)) / (2 sqrt(pi)),  rho = snr,
    integrated with the trapezoidal rule on [-pi, pi]. Tends to 1/(2 rho)
    (the small-angle value used in (9)) for rho -> inf and to pi^2/3 for rho -> 0.
    """
    rho = float(snr_linear)
    if math.isinf(rho):
        return 0.0
    psi = np.linspace(-math.pi, math.pi, int(n_grid))
    c = np.cos(psi)
    sr = math.sqrt(rho)
    p = (math.exp(-rho) / (2.0 * math.pi)
         + sr * c * np.exp(-rho * np.sin(psi) ** 2) * (1.0 + _erf(sr * c))
         / (2.0 * math.sqrt(math.pi)))
    f = psi ** 2 * p
    h = psi[1] - psi[0]
    return float(h * (f.sum() - 0.5 * (f[0] + f[-1])))


def sigma_err_exact_angle(K, k, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed,
                          speed_model="rayleigh", params=PAPER, order="reversed"):
    """(12) with the exact per-pilot phase variance (phase_var_exact) in place of
    the small-angle sigma^2 / (2 a^2) of (9) (rad). Still adds variances (the
    three pilot phase errors are independent and zero mean) and ignores the
    final wrap to (-pi, pi]; at the paper's low SNR (UE 20 dB, BS 10 dB) it is
    14.45 deg against 14.0 deg for (9)."""
    def snr_lin(snr_db, a):
        nv = snr_db_to_noise_var(snr_db)
        return math.inf if nv == 0.0 else a ** 2 / nv
    nv = (phase_var_exact(snr_lin(snr_bs_db, params.a_u))
          + 2.0 * phase_var_exact(snr_lin(snr_ue_db, params.a_d)))
    return np.sqrt(_var_total(K, k, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed,
                              speed_model, params, order, nv))


# ----------------------------------------------------------------------------
# symbol-level Monte Carlo of the literal four steps
# ----------------------------------------------------------------------------

def wrap(x):
    """Wrap angles to [-pi, pi)."""
    return (np.asarray(x) + math.pi) % (2.0 * math.pi) - math.pi


def rayleigh_scale(vbar):
    """Scale s of a Rayleigh distribution with mean vbar: s = vbar / sqrt(pi / 2)."""
    return vbar / math.sqrt(math.pi / 2.0)


def _cn(rng, shape, var):
    """CN(0, var) samples (var / 2 per real dimension); zeros if var == 0."""
    if var == 0.0:
        return np.zeros(shape, dtype=complex)
    s = math.sqrt(var / 2.0)
    return s * (rng.standard_normal(shape) + 1j * rng.standard_normal(shape))


def simulate_four_steps(K, m, var_cfo_hz2, snr_ue_db, snr_bs_db, speed,
                        speed_model="rayleigh", trials=10000, nodes=None, order="reversed",
                        params=PAPER, rng=None, pilot=np.exp(1j * math.pi / 4),
                        random_data_phase=True, return_draws=False):
    """Monte Carlo of the literal four PCP steps; returns the phase errors (rad).

    Per trial and node k (independent): Df_k ~ N(0, var_cfo_hz2), delta_k,
    phi^u_{k,0}, phi^d_{k,0}, alpha_k ~ U[0, 2 pi), speed v_k ~ Rayleigh with
    mean `speed` (speed_model="rayleigh") or v_k = `speed` ("fixed"); AWGN
    CN(0, 1/SNR) in steps 1 and 3 at the node (snr_ue_db) and in step 2 at the
    BS (snr_bs_db); None or inf SNR: no noise. Channel phases follow
    phi_{k,t} = phi_{k,0} + 2 pi t v_k cos(alpha_k) / lambda in UL and DL.
    Times come from `schedule(K, params, order)`.

    Step 1: y1 = a_d e^{j phi^d(T1)} e^{+j(2 pi Df T1 + delta)} p + w1;   thh1 = angle(p* y1)
    Step 2: r2 = a_u e^{j phi^u(T2)} e^{-j(2 pi Df T2 + delta)} p e^{j thh1} + w2;
            thh2 = angle(p* r2)
    Step 3: y3 = a_d e^{j phi^d(T3)} e^{+j(2 pi Df T3 + delta)} p e^{j(theta_des - thh2)} + w3;
            thh3 = angle(p* y3)
    Step 4: t = T4 + m Ts; r4 = a_u e^{j phi^u(t)} e^{-j(2 pi Df t + delta)} d e^{j thh3}
            (node k's component of the superposition, noise-free as the paper's
            thh^(4)_{k,m} = angle(r_{k,t}); d = e^{j U[0, 2 pi)} or 1)
    error = angle(r4 d* e^{-j theta_des}) in (-pi, pi].

    m: scalar or array of symbol indices (same draws for every m).
    nodes: iterable of 1-based node indices to simulate (default all 1..K).
    Returns an array (trials, len(nodes), len(m)); with return_draws=True also
    a dict of the draws (cfo, delta, phi_u0, phi_d0, speed, alpha).
    Memory: 16 bytes x trials x len(nodes) x len(m) per complex temporary.
    """
    rng = np.random.default_rng(rng)
    sch = schedule(K, params, order)
    nodes = np.arange(1, sch.K + 1) if nodes is None else np.atleast_1d(np.asarray(nodes))
    if np.any(nodes < 1) or np.any(nodes > sch.K):
        raise ValueError(f"nodes must be in 1..{sch.K}, got {nodes}")
    if speed_model not in ("rayleigh", "fixed"):
        raise ValueError(f"speed_model must be 'rayleigh' or 'fixed', got {speed_model!r}")
    m = np.atleast_1d(np.asarray(m, dtype=float))
    trials = int(trials)
    idx = nodes - 1
    T1, T2, T3, T4 = sch.T1[idx], sch.T2[idx], sch.T3[idx], sch.T4[idx]
    shape = (trials, len(nodes))
    two_pi = 2.0 * math.pi

    cfo = rng.normal(0.0, math.sqrt(var_cfo_hz2), shape) if var_cfo_hz2 > 0 else np.zeros(shape)
    delta = rng.uniform(0.0, two_pi, shape)
    phi_u0 = rng.uniform(0.0, two_pi, shape)
    phi_d0 = rng.uniform(0.0, two_pi, shape)
    alpha = rng.uniform(0.0, two_pi, shape)
    if speed_model == "rayleigh":
        v = rng.rayleigh(rayleigh_scale(speed), shape) if speed > 0 else np.zeros(shape)
    else:
        v = np.full(shape, float(speed))
    doppler = v * np.cos(alpha) / params.wavelength  # Hz, same in UL and DL
    s_ue = snr_db_to_noise_var(snr_ue_db)
    s_bs = snr_db_to_noise_var(snr_bs_db)
    a_u, a_d, th_des = params.a_u, params.a_d, params.theta_des
    p = complex(pilot)
    pc = np.conj(p)

    def phi_u(t):
        return phi_u0 + two_pi * doppler * t

    def phi_d(t):
        return phi_d0 + two_pi * doppler * t

    def lo(t):  # CFO and PO of the node relative to the BS local oscillator
        return two_pi * cfo * t + delta

    # step 1: request (DL), node k estimates the DL phase
    y1 = a_d * np.exp(1j * (phi_d(T1) + lo(T1))) * p + _cn(rng, shape, s_ue)
    th1 = np.angle(pc * y1)
    # step 2: response (UL), node k echoes p e^{+j thh1}; BS estimates the round trip
    r2 = a_u * np.exp(1j * (phi_u(T2) - lo(T2))) * (p * np.exp(1j * th1)) + _cn(rng, shape, s_bs)
    th2 = np.angle(pc * r2)
    # step 3: feedback (DL), BS sends p e^{j(theta_des - thh2)}; node k's precoder
    y3 = (a_d * np.exp(1j * (phi_d(T3) + lo(T3))) * (p * np.exp(1j * (th_des - th2)))
          + _cn(rng, shape, s_ue))
    th3 = np.angle(pc * y3)
    # step 4: aggregation (UL), symbol m received at T4 + m Ts
    t4 = T4[None, :, None] + m[None, None, :] * params.ts
    if random_data_phase:
        d = np.exp(1j * rng.uniform(0.0, two_pi, (trials, len(nodes), len(m))))
    else:
        d = np.ones((1, 1, 1), dtype=complex)
    ph = (phi_u0[..., None] + two_pi * doppler[..., None] * t4
          - (two_pi * cfo[..., None] * t4 + delta[..., None]) + th3[..., None])
    r4 = a_u * np.exp(1j * ph) * d
    err = np.angle(r4 * np.conj(d) * np.exp(-1j * th_des))
    if return_draws:
        return err, {"cfo": cfo, "delta": delta, "phi_u0": phi_u0, "phi_d0": phi_d0,
                     "speed": v, "alpha": alpha, "nodes": nodes, "m": m}
    return err


def rmse_of(err, axis=0):
    """Root-mean-square of phase errors along `axis` (rad)."""
    return np.sqrt(np.mean(np.square(err), axis=axis))
