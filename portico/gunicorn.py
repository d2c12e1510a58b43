"""gunicorn settings for `manage.py serve` (its flags, and GUNICORN_CMD_ARGS, add to these)."""

import logging

from portico.logging import RedactTokens

accesslog = "-"  # one line per request on stdout, next to the app's own log


def post_fork(server, worker):
    # The access log sees every path, an invitation's landing path /portal/i/<token>/ too: mask it.
    logging.getLogger("gunicorn.access").addFilter(RedactTokens())
