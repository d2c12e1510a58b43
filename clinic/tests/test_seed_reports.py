"""seed_demo leaves months of history, so Reports has a funnel, a line and a measure to show."""

from io import StringIO

from django.core.management import call_command
from django.utils import timezone

from access import reports
from clinic.models import Appointment, Practice


def test_seed_demo_gives_the_reports_something_to_show(db):
    call_command("seed_demo", stdout=StringIO())
    demo = Practice.objects.get(name="Demo Family Practice")
    today = timezone.localdate(timezone=demo.tzinfo)
    year = reports.Period(today.replace(month=1, day=1) if today.month > 5 else today.replace(year=today.year - 1),
                          today, demo.tzinfo)
    completed = Appointment.objects.filter(practice=demo, status=Appointment.Status.COMPLETED)
    assert completed.count() >= 60 and completed.order_by("starts_at").first().starts_at < timezone.now() - \
        timezone.timedelta(days=100)
    [measure] = reports.measure(reports.Scope(demo), year)
    assert 0 < measure.numerator < measure.denominator
    assert len({n for _, n in reports.connected_over_time(reports.Scope(demo), year)}) > 1
