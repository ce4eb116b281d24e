# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""gr-cohere: over-the-air phase coherence for independently clocked radios.

C++ blocks (from the compiled bindings):
    channel_hub, virtual_radio_source_c, virtual_radio_sink_c, ofdm_pilot_estimator,
    preamble_detector_cc, cfo_derotator_cc, phase_precoder_cc, burst_scheduler_cc

Python helpers:
    make_testbed      build and configure a channel_hub from keyword arguments
    simulate          run a finite emulator scenario and return the received samples
    ofdm              OFDM carrier maps, pilots and modulator (estimator conventions)
    preambles         Zadoff-Chu and repeated-half OFDM preambles for the detector
    kalman_phase_tracker  message block: wrapped Kalman phase tracking (algorithms.kalman)
    pcp               phase-coded pilots streaming: PcpConfig, pcp_fusion, pcp_node, run_network
    tdd               broken-TDD phase sync streaming: TddStreamConfig, tdd_ap, run_tdd_stream
"""

from .cohere_python import *  # noqa: F401,F403

from .testbed import make_testbed, simulate  # noqa: F401
from . import preambles  # noqa: F401
from . import ofdm  # noqa: F401
from .kalman_tracker import kalman_phase_tracker  # noqa: F401
from . import pcp  # noqa: F401,E402
from . import tdd  # noqa: F401,E402
