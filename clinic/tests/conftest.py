import pytest
from django.contrib.auth.signals import user_logged_in, user_logged_out

from access.receivers import record_staff_sign_in, record_staff_sign_out


@pytest.fixture(autouse=True)
def _sign_ins_not_recorded(request):
    """Page tests sign in with force_login and then count history rows exactly; the sign-in event
    itself (tested in test_staff_sessions.py, marked records_sign_ins) would only be noise there."""
    if request.node.get_closest_marker("records_sign_ins"):
        yield
        return
    user_logged_in.disconnect(record_staff_sign_in)
    user_logged_out.disconnect(record_staff_sign_out)
    try:
        yield
    finally:
        user_logged_in.connect(record_staff_sign_in)
        user_logged_out.connect(record_staff_sign_out)
