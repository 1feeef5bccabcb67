"""Bounded shutdown: Ctrl-C must end the runtime even when a thread is stuck in a call that does not return."""

from __future__ import annotations

import logging
import threading

log = logging.getLogger("local_runtime")

# Longer than a poll and a typical invocation; a thread still busy then is a daemon and ends with the process.
STOP_TIMEOUT_S = 15.0


def join_within(thread: threading.Thread, timeout_s: float = STOP_TIMEOUT_S) -> None:
    thread.join(timeout_s)
    if thread.is_alive():
        log.warning("%s did not stop within %.0f s; leaving it to end with the process", thread.name, timeout_s)
