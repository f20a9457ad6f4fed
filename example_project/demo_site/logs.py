"""Logging helpers of the example site."""

from __future__ import annotations

import logging


class NoTraceback(logging.Filter):
    """Keep a record's message, drop its stack trace: for events whose message says it all."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True
