"""Times on the patient's pages, as people say them (portico.humantime), in the practice's zone."""

from django import template

from portico import humantime

register = template.Library()


@register.filter
def human_time(moment, time_zone: str) -> str:
    """{{ appointment.starts_at|human_time:practice.time_zone }} -> "Wednesday, December 2 at 5:14 PM Eastern"."""
    return humantime.human_time(moment, time_zone) if moment else ""


@register.filter
def human_date(moment, time_zone: str) -> str:
    """{{ connection.connected_at|human_date:practice.time_zone }} -> "December 2, 2026"."""
    return humantime.human_date(moment, time_zone) if moment else ""


@register.filter
def long_date(day) -> str:
    """{{ patient.date_of_birth|long_date }} -> "May 17, 1980" ("17 de mayo de 1980")."""
    return humantime.long_date(day) if day else ""
