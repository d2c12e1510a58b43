from django import template

from access.request_selectors import topbar_counts as _topbar_counts

register = template.Library()


@register.simple_tag
def topbar_counts(staff) -> dict:
    """The bell's unread count and the practice's open access requests (one query for both)."""
    return _topbar_counts(staff) if staff is not None else {"unread": 0, "open_requests": 0}
