"""The worklist's morning bell: each doctor of a practice that asked for it (Practice.worklist_bell)
hears once a day how many of their visits' 4-business-day windows close that day with no portal
access given (access.reports.due_visits)."""

import datetime
import logging

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import ngettext

from access.reports import due_today_by_doctor
from clinic.models import Notification, Practice

log = logging.getLogger("portico.access")

# The bell goes out in the first periodic round from this hour on, in the practice's time zone.
MORNING = datetime.time(7, 0)


def notify_due_visits() -> int:
    """One notification per doctor with visits due today, once per practice per day (from MORNING,
    weekdays and holidays alike: nothing is due on a day that is not a business day). Returns how
    many notifications were made. A few queries per practice that has the setting on."""
    now, told = timezone.now(), 0
    for practice in Practice.objects.filter(worklist_bell=True).order_by("pk"):
        local = now.astimezone(practice.tzinfo)
        if local.time() >= MORNING:
            told += _notify(practice, local.date(), now)
    return told


@transaction.atomic(durable=True)
def _notify(practice: Practice, today: datetime.date, now: datetime.datetime) -> int:
    # Claimed with one conditional UPDATE: two rounds at once tell each doctor once.
    if not Practice.objects.filter(Q(worklist_notified_on__isnull=True) | Q(worklist_notified_on__lt=today),
                                   pk=practice.pk, worklist_bell=True).update(worklist_notified_on=today):
        return 0
    due = due_today_by_doctor(practice, now=now)
    with translation.override(settings.LANGUAGE_CODE):  # the staff pages' language (notifications.staff_words)
        texts = {n: ngettext("{count} visit is due for portal access today (see Reports → Worklist).",
                             "{count} visits are due for portal access today (see Reports → Worklist).", n)
                 .format(count=n) for n in set(due.values())}
    Notification.objects.bulk_create(Notification(recipient_id=doctor, created_at=now, text=texts[n])
                                      for doctor, n in sorted(due.items()))
    if due:
        log.info("practice %s: worklist bell to %s doctor(s)", practice.pk, len(due))
    return len(due)
