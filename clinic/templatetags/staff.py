from django import template

from clinic import selectors

register = template.Library()


@register.simple_tag
def unread_notifications(staff) -> int:
    """For the bell in the top bar (one query)."""
    return selectors.unread_notification_count(staff) if staff is not None else 0
