from django import template

from access.request_selectors import topbar_counts as _topbar_counts
from clinic import selectors

register = template.Library()


@register.simple_tag
def unread_notifications(staff) -> int:
    """For the bell in the top bar (one query)."""
    return selectors.unread_notification_count(staff) if staff is not None else 0


@register.simple_tag
def topbar_counts(staff) -> dict:
    """The bell's unread count and the practice's open access requests (one query for both)."""
    return _topbar_counts(staff) if staff is not None else {"unread": 0, "open_requests": 0}
