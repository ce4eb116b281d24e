# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Wrapped-innovation Kalman phase trackers (pure numpy, no GNU Radio).

Two filters:

``WrappedPhaseKalman``
    The tracker of Ngo & Larsson, "Breaking the TDD flow for over-the-air phase
    synchronization in distributed antenna systems", Sec. III-B, eqs. (15)-(19):

        alpha_n    = alpha_{n-1} + zeta_n,              zeta_n ~ N(0, s_zeta)    (15)
        alphabar_n = alpha_n + xi_n + mu_n,             xi_n ~ N(0, s_xi),
                                                        mu_n ~ N(0, s_mu)        (16)
        E[zeta_n (xi_n + mu_n)] = s_xi                  (xi_n is part of zeta_n)

        kappa_n    = (P_{n-1} + s_xi) / (P_{n-1} + 3 s_xi + s_mu)                (17)
        alphahat_n = alphahat_{n-1} + kappa_n wrap(alphabar_n - alphahat_{n-1})  (18)
        P_n        = P_{n-1} - kappa_n (P_{n-1} + s_xi) + s_zeta                 (19)

    with wrap(a) = ((a + pi) mod 2 pi) - pi. Note what P_n is: (17)-(19) are the
    generalized Kalman filter for process noise correlated with the measurement
    noise of the same step (Simon, Optimal State Estimation, Sec. 7.1), and
    P_n is the *one-step prediction* variance, var(alpha_{n+1} - alphahat_n):
    P_{n-1} - kappa_n (P_{n-1} + s_xi) is the a-posteriori variance of
    alpha_n - alphahat_n and (19) adds s_zeta to predict one step ahead. The
    estimate alphahat_n is also the prediction of alpha_{n+1} (random walk), so
    the numerator of (17) is P_{n-1} + cov(prior error, measurement noise) and the
    denominator the innovation variance P_{n-1} + (s_xi + s_mu) + 2 s_xi.
    The PDF's text loses Greek letters; (17)-(19) above were checked against the
    original (digest and original agree on them).

    The filter works element-wise on numpy arrays (a bank of independent filters,
    e.g. one per Monte Carlo realization); the variances broadcast against the
    estimate.

``PhaseTracker``
    A general linear tracker with a wrapped innovation for other protocols
    (frequency tracking, PCP drift tracking): random-walk state [phase] or
    constant-velocity state [phase, frequency], variances per unit time,
    arbitrary (positive) time steps, optional cross-covariance between the
    process noise of a step and the measurement noise of that step. With
    model="random_walk", q_phase = s_zeta (dt = 1), r = s_xi + s_mu and
    cross = s_xi it reproduces WrappedPhaseKalman exactly (its ``P`` is the
    a-posteriori covariance; WrappedPhaseKalman.P is the prediction variance).

Both filters: a NaN/Inf measurement is skipped (prediction only) and reported
through the ``gnuradio.cohere.kalman`` logger (rate-limited); invalid variances
(negative, NaN, Inf; a measurement variance of 0) raise ValueError naming the
argument at construction.
"""

import logging
import math

import numpy as np

from ..logs import RateLimitedWarning

__all__ = ["wrap", "WrappedPhaseKalman", "PhaseTracker", "LOGGER_NAME"]

LOGGER_NAME = "gnuradio.cohere.kalman"
_log = logging.getLogger(LOGGER_NAME)


def wrap(a):
    """wrap(a) = ((a + pi) mod 2 pi) - pi, in [-pi, pi) (element-wise). The
    rounding of a + pi can give exactly pi for a just below -pi: that is -pi."""
    w = np.mod(np.asarray(a, dtype=np.float64) + np.pi, 2.0 * np.pi) - np.pi
    w = np.where(w >= np.pi, -np.pi, w)
    return w[()] if w.ndim == 0 else w  # a scalar for a scalar, as np.mod gives


def _check_variance(name, value, *, positive=False):
    """Return value as a float64 array; ValueError naming `name` if any element
    is NaN, Inf, negative (or zero when positive=True)."""
    try:
        arr = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{name} must be a real number, got {value!r}") from exc
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} must be finite, got {value!r}")
    if positive and np.any(arr <= 0.0):
        raise ValueError(f"{name} must be > 0, got {value!r}")
    if np.any(arr < 0.0):
        raise ValueError(f"{name} must be >= 0, got {value!r}")
    return arr


def _scalar_or_array(a):
    a = np.asarray(a, dtype=np.float64)
    return float(a) if a.ndim == 0 else a


class WrappedPhaseKalman:
    """Kalman tracker (17)-(19) of the broken-TDD phase disparity alpha_n.

    Parameters
    ----------
    sigma_zeta2 : process-noise variance s_zeta (rad^2 per step), >= 0.
        In the broken-TDD scheme [8 F tau_c - 4 (i2 - floor(K/2))] sigma_nu^2.
    sigma_xi2 : drift part of the measurement noise s_xi (rad^2), >= 0; it is
        also the covariance E[zeta_n (xi_n + mu_n)]. 2 (i1 - floor(K/2)) sigma_nu^2.
        Must satisfy s_xi^2 <= s_zeta (s_xi + s_mu) (the joint covariance of
        zeta and xi + mu is positive semi-definite).
    sigma_mu2 : estimation-error variance s_mu (rad^2), > 0;
        1 / (rho ||G||_op^2) for the two one-way measurements together.
    estimate : initial estimate alphahat_0 (rad).
    P0 : initial prediction variance P_0 (rad^2), >= 0; default pi^2 / 3, the
        variance of a phase uniform on [-pi, pi) (nothing known).
    wrap_output : keep the estimate in [-pi, pi) (the innovation is always
        wrapped; wrapping the state changes nothing modulo 2 pi).
    warn_interval : minimum seconds between two NaN-measurement warnings.

    Any argument may be a numpy array: the filter is then a bank of
    independent filters, element-wise (the shapes must broadcast).
    """

    def __init__(self, sigma_zeta2, sigma_xi2, sigma_mu2, estimate=0.0, P0=None,
                 wrap_output=True, warn_interval=5.0):
        self.sigma_zeta2 = _check_variance("sigma_zeta2", sigma_zeta2)
        self.sigma_xi2 = _check_variance("sigma_xi2", sigma_xi2)
        self.sigma_mu2 = _check_variance("sigma_mu2", sigma_mu2, positive=True)
        if np.any(self.sigma_xi2 ** 2 > self.sigma_zeta2 * (self.sigma_xi2 + self.sigma_mu2)
                  * (1.0 + 1e-12)):
            raise ValueError(
                "sigma_xi2 is too large for sigma_zeta2: the covariance E[zeta (xi + mu)] = "
                "sigma_xi2 requires sigma_xi2^2 <= sigma_zeta2 (sigma_xi2 + sigma_mu2), got "
                f"sigma_xi2={sigma_xi2!r}, sigma_zeta2={sigma_zeta2!r}, sigma_mu2={sigma_mu2!r}")
        self._P = _check_variance("P0", math.pi ** 2 / 3.0 if P0 is None else P0).copy()
        est = np.asarray(estimate, dtype=np.float64)
        if not np.all(np.isfinite(est)):
            raise ValueError(f"estimate must be finite, got {estimate!r}")
        self.wrap_output = bool(wrap_output)
        shape = np.broadcast_shapes(est.shape, self._P.shape, self.sigma_zeta2.shape,
                                    self.sigma_xi2.shape, self.sigma_mu2.shape)
        self._x = np.broadcast_to(wrap(est) if wrap_output else est, shape).copy()
        self._P = np.broadcast_to(self._P, shape).copy()
        self._gain = np.zeros(shape)
        self._innov = np.full(shape, np.nan)
        self._warn = RateLimitedWarning(_log, warn_interval)
        self._skipped = 0
        self.steps = 0

    # -- state ------------------------------------------------------------
    @property
    def estimate(self):
        """Current estimate alphahat_n (also the prediction of alpha_{n+1})."""
        return _scalar_or_array(self._x)

    @property
    def P(self):
        """P_n of (19): prediction variance var(alpha_{n+1} - alphahat_n)."""
        return _scalar_or_array(self._P)

    @property
    def P_posterior(self):
        """A-posteriori variance var(alpha_n - alphahat_n) = P_n - sigma_zeta2."""
        return _scalar_or_array(self._P - self.sigma_zeta2)

    @property
    def gain(self):
        """kappa_n of the last update (0 where the measurement was skipped)."""
        return _scalar_or_array(self._gain)

    @property
    def innovation(self):
        """wrap(alphabar_n - alphahat_{n-1}) of the last update (NaN if skipped)."""
        return _scalar_or_array(self._innov)

    @property
    def skipped(self):
        """Number of measurements skipped (NaN/Inf) so far: elements, in a
        bank of filters (predict() steps are not measurements)."""
        return self._skipped

    def steady_state_P(self):
        """Fixed point of (17)/(19): with x = P + s_xi,
        x^2 - s_zeta x - s_zeta (2 s_xi + s_mu) = 0, P = x - s_xi."""
        return _scalar_or_array(self.riccati_fixed_point(self.sigma_zeta2, self.sigma_xi2,
                                                         self.sigma_mu2))

    @staticmethod
    def riccati_fixed_point(sigma_zeta2, sigma_xi2, sigma_mu2):
        """Steady-state P of the recursion (19) with the gain (17)."""
        qz = np.asarray(sigma_zeta2, dtype=np.float64)
        sx = np.asarray(sigma_xi2, dtype=np.float64)
        sm = np.asarray(sigma_mu2, dtype=np.float64)
        x = 0.5 * (qz + np.sqrt(qz * qz + 4.0 * qz * (2.0 * sx + sm)))
        return x - sx

    # -- recursion ----------------------------------------------------------
    def predict(self):
        """Skip a step without a measurement: kappa_n = 0, P_n = P_{n-1} + s_zeta."""
        return self.update(np.full(self._x.shape, np.nan), _warn=False)

    def update(self, measurement, _warn=True):
        """One step of (17)-(19) with the measurement alphabar_n (rad, any
        branch). NaN/Inf elements are skipped (prediction only) with a
        rate-limited warning. Returns the new estimate alphahat_n."""
        z = np.asarray(measurement, dtype=np.float64)
        z = np.broadcast_to(z, self._x.shape)
        ok = np.isfinite(z)
        P = self._P
        kappa = (P + self.sigma_xi2) / (P + 3.0 * self.sigma_xi2 + self.sigma_mu2)   # (17)
        kappa = np.where(ok, kappa, 0.0)
        innov = np.where(ok, wrap(np.where(ok, z, 0.0) - self._x), np.nan)
        x = self._x + kappa * np.where(ok, innov, 0.0)                                # (18)
        self._P = P - kappa * (P + self.sigma_xi2) + self.sigma_zeta2                  # (19)
        self._x = wrap(x) if self.wrap_output else x
        self._gain = kappa
        self._innov = innov
        self.steps += 1
        if _warn and not np.all(ok):
            n_bad = int(np.size(ok) - np.count_nonzero(ok))
            self._skipped += n_bad
            self._warn("WrappedPhaseKalman: %d non-finite measurement(s) at step %d skipped "
                       "(prediction only)", n_bad, self.steps)
        return self.estimate


class PhaseTracker:
    """Wrapped-innovation Kalman phase tracker, random-walk or constant-velocity.

    State: x = [phase] (model="random_walk") or x = [phase, frequency]
    (model="constant_velocity", frequency in rad per time unit). Time is in any
    unit (samples, slots, seconds) as long as the variances use the same unit.

    Process noise over a step dt (continuous-time white-noise densities):
        random_walk:        Q = q_phase dt
        constant_velocity:  Q = q_phase dt [[1, 0], [0, 0]]
                              + q_freq [[dt^3/3, dt^2/2], [dt^2/2, dt]]
    Measurement: z = phase + v, var(v) = r (> 0), innovation wrap(z - phase_pred).
    cross: optional covariance between the process noise of the step and v
    (scalar for random_walk: cov(w_phase, v); length-2 for constant_velocity);
    None means uncorrelated.

        x- = F x,  P- = F P F^T + Q,  S = H P- H^T + r + 2 H c,
        K = (P- H^T + c) / S,  x = x- + K wrap(z - H x-),  P = P- - K S K^T.

    Parameters
    ----------
    model : "random_walk" or "constant_velocity"
    q_phase : phase random-walk density (rad^2 per time unit), >= 0
    q_freq : frequency random-walk density ((rad/unit)^2 per unit), >= 0
        (constant_velocity only)
    r : measurement-noise variance (rad^2), > 0
    phase0, freq0 : initial state
    P0 : initial covariance: a scalar (times the identity) or an n x n matrix;
        default diag(pi^2/3, 1): phase uniform on [-pi, pi), frequency
        1 (rad/unit)^2 (pass a prior that fits your time unit).
    cross : see above
    wrap_output : keep the phase state in [-pi, pi)
    warn_interval : minimum seconds between two NaN-measurement warnings
    """

    MODELS = ("random_walk", "constant_velocity")

    def __init__(self, model="random_walk", q_phase=0.0, q_freq=0.0, r=1.0, phase0=0.0,
                 freq0=0.0, P0=None, cross=None, wrap_output=True, warn_interval=5.0):
        if model not in self.MODELS:
            raise ValueError(f"model must be one of {self.MODELS}, got {model!r}")
        self.model = model
        self.q_phase = float(_check_variance("q_phase", q_phase))
        self.q_freq = float(_check_variance("q_freq", q_freq))
        self.r = float(_check_variance("r", r, positive=True))
        n = 1 if model == "random_walk" else 2
        self.n = n
        for name, v in (("phase0", phase0), ("freq0", freq0)):
            if not np.isfinite(float(v)):
                raise ValueError(f"{name} must be finite, got {v!r}")
        self._x = np.array([float(phase0), float(freq0)][:n])
        self.wrap_output = bool(wrap_output)
        if self.wrap_output:
            self._x[0] = float(wrap(self._x[0]))
        if P0 is None:
            P = np.diag([math.pi ** 2 / 3.0, 1.0][:n])
        else:
            P0a = np.asarray(P0, dtype=np.float64)
            if P0a.ndim == 0:
                P = float(_check_variance("P0", P0a)) * np.eye(n)
            else:
                if P0a.shape != (n, n):
                    raise ValueError(f"P0 must be a scalar or {n}x{n}, got shape {P0a.shape}")
                if not np.all(np.isfinite(P0a)):
                    raise ValueError(f"P0 must be finite, got {P0!r}")
                P = 0.5 * (P0a + P0a.T)
                if np.min(np.linalg.eigvalsh(P)) < -1e-12 * max(1.0, np.max(np.abs(P))):
                    raise ValueError("P0 must be positive semi-definite")
        self._P = P
        if cross is None:
            self.cross = np.zeros(n)
        else:
            c = np.atleast_1d(np.asarray(cross, dtype=np.float64))
            if c.shape != (n,) or not np.all(np.isfinite(c)):
                raise ValueError(f"cross must be finite with {n} element(s), got {cross!r}")
            self.cross = c
            self._check_joint(1.0)  # the unit step; every other step is checked when taken
        self._time = None
        self._innov = math.nan
        self._gain = np.zeros(n)
        self._warn = RateLimitedWarning(_log, warn_interval)

    # -- state ------------------------------------------------------------
    @property
    def phase(self):
        return float(self._x[0])

    @property
    def frequency(self):
        """Frequency state (rad per time unit); 0 for the random-walk model."""
        return float(self._x[1]) if self.n == 2 else 0.0

    @property
    def state(self):
        return self._x.copy()

    @property
    def P(self):
        """A-posteriori covariance of the state after the last step (n x n)."""
        return self._P.copy()

    @property
    def innovation(self):
        return self._innov

    @property
    def gain(self):
        return self._gain.copy()

    @property
    def time(self):
        return self._time

    @property
    def skipped(self):
        return self._warn.count

    # -- model ------------------------------------------------------------
    def transition(self, dt):
        if self.n == 1:
            return np.eye(1), np.array([[self.q_phase * dt]])
        F = np.array([[1.0, dt], [0.0, 1.0]])
        Q = self.q_phase * dt * np.array([[1.0, 0.0], [0.0, 0.0]]) + self.q_freq * np.array(
            [[dt ** 3 / 3.0, dt ** 2 / 2.0], [dt ** 2 / 2.0, dt]])
        return F, Q

    def _check_joint(self, dt):
        """The joint covariance [[Q(dt), cross], [cross^T, r]] of the step's
        process noise and the measurement noise must be positive
        semi-definite: otherwise P can go negative and the gain exceed 1."""
        if not np.any(self.cross):
            return
        _, Q = self.transition(dt)
        joint = np.zeros((self.n + 1, self.n + 1))
        joint[:self.n, :self.n] = Q
        joint[:self.n, self.n] = joint[self.n, :self.n] = self.cross
        joint[self.n, self.n] = self.r
        if np.min(np.linalg.eigvalsh(joint)) < -1e-12 * max(1.0, np.max(np.abs(joint))):
            raise ValueError(f"cross {self.cross.tolist()!r} with Q(dt = {dt:g}) and r = "
                             f"{self.r:g} is not a covariance (the joint matrix must be "
                             f"positive semi-definite, e.g. cross^2 <= q_phase dt r)")

    def _dt(self, t):
        if t is None:
            return 1.0, (None if self._time is None else self._time + 1.0)
        t = float(t)
        if not math.isfinite(t):
            raise ValueError(f"time must be finite, got {t!r}")
        if self._time is None:
            return 1.0, t
        dt = t - self._time
        if dt <= 0.0:
            raise ValueError(f"time must increase: {t} after {self._time}")
        return dt, t

    def predict(self, t=None):
        """Propagate to time t (default: one time unit later) without a measurement."""
        dt, t_new = self._dt(t)
        F, Q = self.transition(dt)
        self._x = F @ self._x
        if self.wrap_output:
            self._x[0] = float(wrap(self._x[0]))
        self._P = F @ self._P @ F.T + Q
        self._time = t_new
        self._innov = math.nan
        self._gain = np.zeros(self.n)
        return self.phase

    def update(self, measurement, t=None):
        """Propagate to time t (default one unit later) and fuse the phase
        measurement (rad, any branch). NaN/Inf measurement: prediction only and
        a rate-limited warning. Returns the phase estimate. ValueError if t
        does not increase."""
        z = float(measurement)
        if not math.isfinite(z):
            self.predict(t)
            self._warn("PhaseTracker: non-finite measurement %r at time %s skipped "
                       "(prediction only)", z, self._time)
            return self.phase
        dt, t_new = self._dt(t)
        if dt != 1.0:
            self._check_joint(dt)
        F, Q = self.transition(dt)
        x = F @ self._x
        P = F @ self._P @ F.T + Q
        H = np.zeros(self.n)
        H[0] = 1.0
        c = self.cross
        S = float(H @ P @ H + self.r + 2.0 * H @ c)
        K = (P @ H + c) / S
        innov = float(wrap(z - x[0]))
        x = x + K * innov
        P = P - S * np.outer(K, K)
        self._P = 0.5 * (P + P.T)
        if self.wrap_output:
            x[0] = float(wrap(x[0]))
        self._x = x
        self._time = t_new
        self._innov = innov
        self._gain = K
        return self.phase
