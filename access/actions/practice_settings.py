"""A practice's invitation settings, changed by its admins and each change recorded in words."""

import datetime
import logging

from django.db import transaction

from access import history
from access.actions import visit_access
from access.history import Actor
from access.models import AccessEvent
from clinic import validation
from clinic.models import Practice, StaffMember
from portico import languages
from portico.client import NO_CLIENT, Client

log = logging.getLogger("portico.access")
Action = AccessEvent.Action


# What change_practice_settings may change (Practice fields; the Settings page shows them all).
SETTINGS = ("auto_invite", "reminder_days_before", "reinvite_after_days", "reinvite_max", "minimum_age",
            "invite_ttl_days", "renewal_days", "phone", "patient_contact_note", "holidays", "worklist_bell",
            "default_language", "invite_by", "proxy_limited_from_age", "proxy_ends_at_age")


@transaction.atomic(durable=True)
def change_practice_settings(practice: Practice, *, by: StaffMember, client: Client = NO_CLIENT, **changes) -> list[str]:
    """Change the practice's settings (names in SETTINGS, values already clean): checked as a whole
    (ValidationError, nothing changed), saved, and each change recorded in the access history in words
    ("Reminder before expiry: 2 days before → Off"), which are returned. A pending invitation keeps its
    expiry; the other settings apply from the next booking or periodic round."""
    if unknown := set(changes) - set(SETTINGS):
        raise TypeError(f"not a practice setting: {', '.join(sorted(unknown))}")
    locked = Practice.objects.select_for_update(no_key=True).get(pk=practice.pk)
    before = {name: getattr(locked, name) for name in changes}
    for name, value in changes.items():
        setattr(locked, name, value)
    locked.full_clean()
    changed = [name for name in SETTINGS if name in changes and getattr(locked, name) != before[name]]
    if not changed:
        return []
    locked.save(update_fields=changed)
    if "holidays" in changed:  # the measure's windows move
        visit_access.holidays_changed(locked, before["holidays"], locked.holidays)
    described = [_holidays_change(before[name], locked.holidays) if name == "holidays" else
                 f"{_setting_label(name)}: {_setting_text(name, before[name])} → {_setting_text(name, getattr(locked, name))}"
                 for name in changed]
    history.append([history.new_event(locked, Action.SETTINGS_CHANGED, actor=Actor.staff(by), reason=text[:200],
                                      client=client) for text in described])
    log.info("practice %s settings changed by %s: %s", locked.pk, by.pk, ", ".join(changed))
    return described


def _holidays_change(before: list[str], after: list[str]) -> str:
    """"Holidays: added 25 Dec 2026, 1 Jan 2027; removed 4 Jul 2026" (a list can be long: say what changed)."""
    days = lambda values: ", ".join(f"{datetime.date.fromisoformat(v):%-d %b %Y}" for v in sorted(values))  # noqa: E731
    added, removed = set(after) - set(before), set(before) - set(after)
    return "Holidays: " + "; ".join(part for part in (f"added {days(added)}" if added else "",
                                                      f"removed {days(removed)}" if removed else "") if part)


def _setting_label(name: str) -> str:
    return str(Practice._meta.get_field(name).verbose_name).capitalize()


def _setting_text(name: str, value) -> str:
    if value in (None, ""):
        return "Off" if name in ("reminder_days_before", "reinvite_after_days", "renewal_days") else "None"
    plural = lambda n, unit: f"{n} {unit}{'' if n == 1 else 's'}"  # noqa: E731
    return {
        "auto_invite": lambda: Practice.AutoInvite(value).label,
        "invite_by": lambda: Practice.InviteBy(value).label,
        "reminder_days_before": lambda: f"{plural(value, 'day')} before",
        "reinvite_after_days": lambda: f"after {plural(value, 'day')}",
        "reinvite_max": lambda: f"{plural(value, 'time')} at most",
        "invite_ttl_days": lambda: plural(value, "day"),
        "renewal_days": lambda: f"up to {plural(value, 'day')} after expiry",
        "phone": lambda: validation.format_phone(value),
        "patient_contact_note": lambda: f"“{value}”",
        "worklist_bell": lambda: "On" if value else "Off",
        "default_language": lambda: languages.english_name(value),
    }.get(name, lambda: str(value))()
