# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Pure-numpy algorithms of gr-cohere (no GNU Radio): estimators and their
bounds, Kalman trackers, schedules and closed-form statistics. Importable and
testable without a flowgraph; the protocol blocks and apps build on them."""
