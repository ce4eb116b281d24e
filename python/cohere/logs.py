# Copyright 2026 The gr-cohere authors
# SPDX-License-Identifier: GPL-3.0-or-later
"""Loggers for Python blocks, following GNU Radio's C++ convention.

A C++ block has d_logger (level `log_level` of the [LOG] preferences) for
what a user should see, and d_debug_logger (level `debug_level`, silent by
default) for per-event detail. block_loggers() gives a Python block the same
pair, so per-round chatter stays out of a normal run and is switched on with
`debug_level = debug` in ~/.gnuradio/config.conf (section [LOG]).
"""

import math
import time

from gnuradio import gr

__all__ = ["block_loggers", "guarded_work", "RateLimitedWarning", "GrLogAdapter"]


def block_loggers(name):
    """(logger, debug_logger) for a block called `name`."""
    log = gr.logger(name)
    debug = gr.logger(f"{name} (debug)")
    debug.set_level(gr.prefs().get_string("LOG", "debug_level", "emerg"))
    return log, debug


def guarded_work(block, who, work, input_items, output_items):
    """work(input_items, output_items) for a Python block whose logic may
    raise. An exception would end the block's thread and leave the flowgraph
    waiting for its stream forever: the stream ends instead (WORK_DONE), the
    reason goes to block.error and to block._log (error level)."""
    try:
        return work(input_items, output_items)
    except Exception as exc:  # noqa: BLE001 - reported, not swallowed
        block.error = f"{type(exc).__name__}: {exc}"
        block._log.error(f"{who}: {block.error}; it stops")
        return -1


class RateLimitedWarning:
    """Emit at most one warning per `interval` seconds through `logger` (a
    logging-style .warning(msg, *args); GrLogAdapter for a gr.logger); count
    the rest and report how many were suppressed with the next emitted one."""

    def __init__(self, logger, interval=5.0):
        self.logger = logger
        self.interval = float(interval)
        self._last = -math.inf
        self._suppressed = 0
        self.count = 0          # total number of events (emitted or not)

    def __call__(self, msg, *args):
        self.count += 1
        now = time.monotonic()
        if now - self._last >= self.interval:
            if self._suppressed:
                msg = msg + " (%d similar warnings suppressed)"
                args = args + (self._suppressed,)
            self.logger.warning(msg, *args)
            self._last = now
            self._suppressed = 0
        else:
            self._suppressed += 1


class GrLogAdapter:
    """logging-style .warning() on top of a gr.logger (or its name)."""

    def __init__(self, log):
        self._log = gr.logger(log) if isinstance(log, str) else log

    def warning(self, msg, *args):
        self._log.warn(msg % args if args else msg)
