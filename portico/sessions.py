"""The idle sign-out (SESSION_COOKIE_AGE after the last request) without a session write per request.

Django's SESSION_SAVE_EVERY_REQUEST writes the session on every request to push its expiry back: on
SQLite a write transaction per GET, which queues concurrent page views behind one another. Here a
signed-in session is saved (its expiry pushed back to now + SESSION_COOKIE_AGE) only when its last save
is REFRESH_SECONDS old or more, so the session ends between SESSION_COOKIE_AGE - REFRESH_SECONDS and
SESSION_COOKIE_AGE after the last request: never later than the age, at most a minute earlier."""

import time

from django.http import HttpRequest, HttpResponse

REFRESH_SECONDS = 60
SAVED_AT = "_saved_at"  # when the session was last saved (seconds since the epoch): its expiry's start


class RefreshSessionExpiry:
    """After django.contrib.sessions.middleware.SessionMiddleware in MIDDLEWARE (so this runs before it
    saves the response's session)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        session = request.session
        # Only a session that holds something (a sign-in, an invitation in progress) is kept alive: a
        # stamp alone would store a session for every anonymous visitor, or revive one just signed out.
        if session.session_key is None and not session.modified or not session.keys() - {SAVED_AT}:
            return response
        now = int(time.time())
        if session.modified or now - session.get(SAVED_AT, 0) >= REFRESH_SECONDS:
            session[SAVED_AT] = now  # marks it modified: SessionMiddleware saves it and sends the cookie
        return response
