# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Broken-TDD bidirectional phase synchronization streaming on GNU Radio (Ngo, Larsson).

    TddStreamConfig      slot/frame geometry, sync SNR, LO quality, lookahead
    tdd_ap               hier block: one AP (pilots, conjugate beamforming, sync,
                         AP 2's precoders driven by the tracked phase)
    tdd_central_unit     message block: alphabar = alpha12 - alpha21 (13) per frame
    run_tdd_stream/analyze   emulate the two APs and the users, measure against
                         the emulator's ground truth

The numeric model (Kalman filter (17)-(19), SE of Theorem 1) is in
gnuradio.cohere.algorithms.tdd_sync and .kalman; the tracker block is
gnuradio.cohere.kalman_phase_tracker.
"""

from .config import TddStreamConfig, dl_symbols  # noqa: F401
from .blocks import tdd_ap, tdd_ap_control, tdd_central_unit  # noqa: F401
from .network import (TddRun, analyze, inter_ap_channel, run_tdd_stream,  # noqa: F401
                      sync_snr_db, true_alpha)
