"""Logging filters that keep secrets out of log files."""

import logging
import re

# Emailed links carry a secret in their path for one request, before they redirect to a clean URL:
# the invitation landing /portal/i/<token>/ and the password reset /portal/password/reset/<uid>/<token>/.
_SECRETS_IN_PATHS = [
    (re.compile(r"(/i/)[A-Za-z0-9_\-]{20,}"), r"\1[redacted]"),
    (re.compile(r"(/password/reset/)[A-Za-z0-9_\-]+/(?!set-password/)[A-Za-z0-9_\-]+"), r"\1[redacted]/[redacted]"),
]


class RedactTokens(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern, replacement in _SECRETS_IN_PATHS:
            redacted = pattern.sub(replacement, redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True
