# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Phase-coded pilots (Sahin) streaming on GNU Radio: fusion node, PCP nodes,
and a runner with ground-truth analysis on the emulator.

    PcpConfig           the schedule and waveforms both sides agree on
    pcp_fusion          hier block: fusion node (requests, feedback, OAC sums)
    pcp_node            hier block: PCP node (CFO pre-compensation, C++ echoes)
    run_network/analyze emulate a whole network and measure it

Closed forms and the symbol-level Monte Carlo are in
gnuradio.cohere.algorithms.pcp.
"""

from .config import PcpConfig, fractional_delay, unitary_fft  # noqa: F401
from .fusion import pcp_fusion, pcp_fusion_control  # noqa: F401
from .node import pcp_node, pcp_node_control  # noqa: F401
from .network import (NetworkRun, analyze, predicted_errors, predicted_rmse,  # noqa: F401
                      residual_cfo,
                      run_network, theory_phase_var)
