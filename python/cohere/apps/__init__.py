# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Command-line applications of gr-cohere (run as `cohere <app> ...`)."""
