"""Logging filters that keep secrets out of log files."""

import logging
import re

# Invitation tokens appear only in the landing URL /i/<token>; mask them wherever they show up.
_TOKEN_IN_PATH = re.compile(r"(/i/)[A-Za-z0-9_\-]{20,}")


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = _TOKEN_IN_PATH.sub(r"\1[redacted]", message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
