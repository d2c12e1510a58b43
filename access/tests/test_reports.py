"""The adoption report and the electronic-access measure (PI_PEA_1), counted by the database, tested
at their boundaries with a controlled clock against a hand-built practice."""

import datetime
import zoneinfo

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from access import errors, reports
from access.actions import acceptance, expiry, sending
from access.actions.practice_settings import change_practice_settings
from access.models import Channel, Connection
from access.reports import NO_EMAIL, NOT_ELIGIBLE, NOT_INVITED, WINDOW_OPEN, Scope
from access.tests.helpers import connect, right_answers
from clinic import services
from clinic.models import Appointment, Patient, Practice, StaffMember

NY = zoneinfo.ZoneInfo("America/New_York")
NOVEMBER = reports.Period(datetime.date(2026, 11, 1), datetime.date(2026, 11, 30), NY)


def at(day: int, hour: int = 10, minute: int = 0, month: int = 11) -> datetime.datetime:
    return datetime.datetime(2026, month, day, hour, minute, tzinfo=NY)


def visit(cast, patient, when, doctor=None, status=Appointment.Status.COMPLETED) -> Appointment:
    """An appointment with that status, completed through the ordinary path (which keeps the report's summary)."""
    appointment = Appointment.objects.create(
        practice=patient.practice, patient=patient, doctor=doctor or cast.dora, starts_at=when,
        ends_at=when + datetime.timedelta(minutes=30),
        status=Appointment.Status.SCHEDULED if status == Appointment.Status.COMPLETED else status)
    if status == Appointment.Status.COMPLETED:
        services.complete_appointment(appointment=appointment, by=None)
    return appointment


def invite(cast, patient, when) -> sending.SentInvitation:
    with time_machine.travel(when, tick=False):
        return sending.send_invitation(patient, by=cast.alice, channel=Channel.CHART)


def measured(cast, *, now, doctor=None, period=NOVEMBER) -> dict[str, reports.ClinicianMeasure]:
    with time_machine.travel(now, tick=False):
        return {row.name: row for row in reports.measure(Scope(Practice.objects.get(pk=cast.practice.pk), doctor),
                                                         period)}


def patient(cast, n: int, **details) -> Patient:
    return Patient.objects.create(practice=cast.practice, doctor=cast.dora, chart_number=f"A-{200 + n}",
                                  first_name=f"P{n}", last_name=f"Person{n}",
                                  **{"email": f"p{n}@example.test", "ssn": "123456789", **details})


@pytest.fixture
def drew(cast, django_user_model):
    user = django_user_model.objects.create_user(username="drew", last_name="Drake")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.DOCTOR)


def test_a_friday_visit_invited_on_the_fourth_business_day_counts(cast):
    visit(cast, cast.pat, at(6))  # Friday
    invite(cast, cast.pat, at(12, 23, 59))  # Thursday, the 4th business day, before midnight
    [dora] = measured(cast, now=at(30)).values()
    assert (dora.numerator, dora.denominator, dora.percent) == (1, 1, 100.0)


def test_an_invitation_the_day_after_the_window_is_late(cast):
    visit(cast, cast.pat, at(6))
    invite(cast, cast.pat, at(13, 0, 1))  # Friday, just after the window closed
    [dora] = measured(cast, now=at(30)).values()
    assert (dora.numerator, dora.denominator) == (0, 1)
    assert [(m.chart_number, m.reason) for m in dora.missed] == [("A-100", NOT_INVITED)]


def test_a_holiday_in_between_gives_a_day_more(cast):
    visit(cast, cast.pat, at(6))
    invite(cast, cast.pat, at(13, 9))
    assert measured(cast, now=at(30))["Dr. Dorsey"].numerator == 0
    change_practice_settings(cast.practice, by=cast.alice, holidays=["2026-11-11"])  # Veterans Day, a Wednesday
    assert measured(cast, now=at(30))["Dr. Dorsey"].numerator == 1


def test_a_visit_in_the_last_hour_of_the_period_counts_an_invitation_after_it(cast):
    visit(cast, cast.pat, at(30, 23, 15))  # Monday 30 November, 11:15 PM: in November
    december_first = measured(cast, now=at(1, 9, month=12))["Dr. Dorsey"]
    assert (december_first.numerator, december_first.denominator) == (0, 1)
    assert [m.reason for m in december_first.missed] == [WINDOW_OPEN]
    invite(cast, cast.pat, at(4, 16, month=12))  # Friday 4 December, the 4th business day after
    assert measured(cast, now=at(10, month=12))["Dr. Dorsey"].numerator == 1
    # A visit at midnight on 1 December is December's, not November's.
    visit(cast, cast.ned, at(1, 0, 0, month=12))
    assert measured(cast, now=at(10, month=12))["Dr. Dorsey"].denominator == 1


def test_two_visits_with_two_clinicians_are_measured_apart(cast, drew):
    visit(cast, cast.pat, at(2))
    invite(cast, cast.pat, at(3))  # expires on the 10th, unanswered
    visit(cast, cast.pat, at(20), doctor=drew)
    result = measured(cast, now=at(30))
    assert (result["Dr. Dorsey"].numerator, result["Dr. Dorsey"].denominator) == (1, 1)
    assert (result["Dr. Drake"].numerator, result["Dr. Drake"].denominator) == (0, 1)
    # Drew alone, as his own report shows it.
    assert list(measured(cast, now=at(30), doctor=drew)) == ["Dr. Drake"]


def test_a_later_visit_without_access_does_not_undo_an_earlier_one(cast):
    visit(cast, cast.pat, at(2))
    invite(cast, cast.pat, at(3))
    visit(cast, cast.pat, at(20))  # the invitation expired on the 10th, nothing since
    dora = measured(cast, now=at(30))["Dr. Dorsey"]
    assert (dora.numerator, dora.denominator, dora.missed) == (1, 1, [])


def test_a_patient_connected_before_the_period_counts_while_still_connected(cast):
    with time_machine.travel(at(5, month=10), tick=False):
        connect(cast)
    visit(cast, cast.pat, at(16))
    assert measured(cast, now=at(30))["Dr. Dorsey"].numerator == 1
    with time_machine.travel(at(10), tick=False):  # disconnected before the visit: no longer counts
        acceptance.disconnect_practice(Connection.objects.get())
    assert measured(cast, now=at(30))["Dr. Dorsey"].numerator == 0


def test_an_invitation_still_pending_at_the_visit_counts(cast):
    invite(cast, cast.pat, at(1, 9))  # Sunday; works 7 days
    visit(cast, cast.pat, at(3))
    assert measured(cast, now=at(30))["Dr. Dorsey"].numerator == 1


def test_an_invitation_that_lapsed_before_the_visit_does_not(cast):
    invite(cast, cast.pat, at(1, 9, month=10))
    with time_machine.travel(at(20, month=10), tick=False):
        expiry.expire_invitations()
    visit(cast, cast.pat, at(3))
    assert measured(cast, now=at(30))["Dr. Dorsey"].numerator == 0


def test_only_completed_visits_of_the_practice_count(cast):
    visit(cast, cast.pat, at(3), status=Appointment.Status.NO_SHOW)
    visit(cast, cast.pat, at(4), status=Appointment.Status.SCHEDULED)
    bob_doctor = StaffMember.objects.create(user=cast.bob.user.__class__.objects.create_user(username="bd"),
                                            practice=cast.other_practice, role=StaffMember.Role.DOCTOR)
    visit(cast, cast.bea, at(3), doctor=bob_doctor)
    assert measured(cast, now=at(30)) == {}


def test_the_missed_patients_say_why(cast):
    no_identity = patient(cast, 1, ssn="")
    too_young = patient(cast, 2, date_of_birth=datetime.date(2020, 1, 1))
    for p in (cast.pat, cast.ned, no_identity, too_young):
        visit(cast, p, at(2))
    dora = measured(cast, now=at(30))["Dr. Dorsey"]
    assert (dora.numerator, dora.denominator, dora.percent) == (0, 4, 0.0)
    assert [(m.name, m.reason) for m in dora.missed] == [
        ("Ned Stone", NO_EMAIL), ("P1 Person1", NOT_ELIGIBLE), ("P2 Person2", NOT_ELIGIBLE),
        ("Pat Jones", NOT_INVITED)]
    assert dora.missed[2].reason_label == "Not eligible (Patients under 13 cannot have their own portal account)"
    assert dora.missed_by_reason == {NO_EMAIL: 1, NOT_ELIGIBLE: 2, NOT_INVITED: 1}


def test_the_missed_are_counted_by_reason_up_to_a_million_pairs_each():
    # COUNTS_SQL sums the first three reasons as the digits of one number in base 2**20 = 1,048,576.
    full = 1_048_575
    assert reports._by_reason(3 * full + 5, full + full * 1_048_576 + full * 1_048_576 ** 2) == {
        WINDOW_OPEN: full, NO_EMAIL: full, NOT_ELIGIBLE: full, NOT_INVITED: 5}
    assert reports._by_reason(2, 1_048_576) == {NO_EMAIL: 1, NOT_INVITED: 1}


def test_the_measure_takes_the_same_queries_however_many_patients(cast, drew):
    def count() -> int:
        scope = Scope(Practice.objects.get(pk=cast.practice.pk))
        with time_machine.travel(at(30), tick=False), CaptureQueriesContext(connection) as queries:
            reports.measure(scope, NOVEMBER)
        return len(queries)

    visit(cast, cast.pat, at(2))
    visit(cast, patient(cast, 99), at(2), doctor=drew)
    few = count()
    for n in range(20):
        visit(cast, patient(cast, n), at(3 + n % 20), doctor=drew if n % 2 else cast.dora)
    # The counts, the clinicians' names, one list per clinician and reason shown (here one each), the
    # chart numbers of the rows shown: however many patients.
    assert count() == few == 5


def test_the_missed_are_counted_in_full_and_listed_up_to_the_limit(cast):
    people = [patient(cast, n, **({"email": ""} if n % 3 == 0 else {})) for n in range(7)]
    for p in people:
        visit(cast, p, at(2))
    with time_machine.travel(at(30), tick=False):
        scope = Scope(Practice.objects.get(pk=cast.practice.pk))
        [dora] = reports.measure(scope, NOVEMBER, limit=3)
        every = list(reports.missed_patients(scope, NOVEMBER, [cast.dora.pk], chunk=2))
    assert (dora.numerator, dora.denominator, dora.missed_count, dora.missed_not_shown) == (0, 7, 7, 4)
    assert dora.missed_by_reason == {NO_EMAIL: 3, NOT_INVITED: 4}
    assert [m.name for m in dora.missed] == ["P0 Person0", "P3 Person3", "P6 Person6"]  # no email first
    assert dora.missed == every[:3] and len(every) == 7
    assert [m.reason for m in every] == [NO_EMAIL] * 3 + [NOT_INVITED] * 4
    with time_machine.travel(at(30), tick=False):  # the list goes on into the next reason, by name
        [dora] = reports.measure(scope, NOVEMBER, limit=5)
    assert [m.name for m in dora.missed] == ["P0 Person0", "P3 Person3", "P6 Person6", "P1 Person1", "P2 Person2"]
    assert dora.missed == every[:5]


# --- the funnel and its splits -------------------------------------------------------------------

def test_the_funnel_counts_a_hand_built_practice(cast, drew):
    p = [patient(cast, n) for n in range(6)]
    Patient.objects.filter(pk=p[5].pk).update(doctor=drew)
    invite(cast, p[0], at(2))                           # never opened, lapses
    sent = invite(cast, p[1], at(3))                    # identity tried wrong, then right, connected
    with time_machine.travel(at(3, 12), tick=False):
        with pytest.raises(errors.IdentityNotConfirmed):
            acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn="987654321"))
        proof = acceptance.verify_identity(sent.token, right_answers(p[1])).proof
        acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
    sent = invite(cast, p[2], at(4))                    # confirmed, never accepted: lapses
    with time_machine.travel(at(4, 12), tick=False):
        acceptance.verify_identity(sent.token, right_answers(p[2]))
    invite(cast, p[3], at(25))                          # pending, unopened
    with time_machine.travel(at(15, month=10), tick=False):
        sending.send_invitation(p[4], by=cast.alice, channel=Channel.BULK)  # before the period
    with time_machine.travel(at(30), tick=False):
        expiry.expire_invitations()
        total, stages = reports.funnel(Scope(Practice.objects.get(pk=cast.practice.pk)), NOVEMBER)
        stops = reports.stops(Scope(cast.practice), NOVEMBER)
        doctors = reports.by_doctor(Scope(cast.practice), NOVEMBER)
        channels = reports.by_channel(Scope(cast.practice), NOVEMBER)
    # pat, ned, p0..p5: 8 patients; ned has no email.
    assert total == 8
    assert [(s.key, s.count) for s in stages] == [("eligible", 7), ("invited", 4), ("opened", 2), ("confirmed", 2),
                                                  ("connected", 1)]
    assert [s.percent for s in stages] == [87.5, 57.1, 28.6, 28.6, 14.3]
    assert {key: n for key, _, n in stops if n} == {"expired_unopened": 1, "expired_opened": 1, "pending_unopened": 1}
    assert [(r.name, r.patients, r.eligible, r.invited, r.connected, r.never_offered) for r in doctors] == [
        ("Dr. Dorsey", 7, 6, 4, 1, 1), ("Dr. Drake", 1, 1, 0, 0, 1)]
    assert [(r.channel, r.invited, r.opened, r.confirmed, r.connected) for r in channels] == [("chart", 4, 2, 2, 1)]


def test_where_patients_stopped_reads_each_ones_latest_invitation_of_the_period(cast):
    p = [patient(cast, n) for n in range(3)]
    invite(cast, p[0], at(2))                           # lapses unopened, then invited again: pending
    with time_machine.travel(at(10), tick=False):
        expiry.expire_invitations()
    invite(cast, p[0], at(12))
    sent = invite(cast, p[1], at(3))                    # connected, disconnects, invited again: not stopped
    with time_machine.travel(at(3, 12), tick=False):
        proof = acceptance.verify_identity(sent.token, right_answers(p[1])).proof
        connection = acceptance.accept_invitation(sent.token, proof=proof, password="a-long-enough-password")
    with time_machine.travel(at(5), tick=False):
        acceptance.disconnect_practice(connection)
    invite(cast, p[1], at(10))
    invite(cast, p[2], at(6))                           # resent the same second: the later row is the latest
    with time_machine.travel(at(6), tick=False):
        sending.resend_invitation(p[2], by=cast.alice, channel=Channel.CHART)
    with time_machine.travel(at(12, 12), tick=False):
        stops = reports.stops(Scope(cast.practice), NOVEMBER)
    assert {key: n for key, _, n in stops if n} == {"pending_unopened": 2}


def test_the_funnel_of_one_doctor_counts_only_their_patients(cast, drew):
    other = patient(cast, 9)
    Patient.objects.filter(pk=other.pk).update(doctor=drew)
    invite(cast, other, at(3))
    with time_machine.travel(at(30), tick=False):
        total, stages = reports.funnel(Scope(cast.practice, drew), NOVEMBER)
    assert total == 1 and [s.count for s in stages] == [1, 1, 0, 0, 0]


def test_the_funnel_by_age_band_at_the_end_of_the_period(cast):
    Patient.objects.filter(practice=cast.practice).delete()
    eighteen = patient(cast, 1, date_of_birth=datetime.date(2008, 11, 30))  # 18 on 30 November
    patient(cast, 2, date_of_birth=datetime.date(2008, 12, 1))              # 17 until December
    patient(cast, 3, date_of_birth=datetime.date(2013, 12, 1), ssn="")      # 12 today: too young, no identity
    sixty_five = patient(cast, 4, date_of_birth=datetime.date(1961, 11, 30))
    patient(cast, 5, date_of_birth=datetime.date(1961, 12, 1))              # 64
    patient(cast, 6)                                                        # no date of birth
    invite(cast, eighteen, at(3))
    invite(cast, sixty_five, at(4))
    with time_machine.travel(at(30), tick=False):
        rows = reports.by_age(Scope(Practice.objects.get(pk=cast.practice.pk)), NOVEMBER)
    assert [(r.band, r.patients, r.eligible, r.invited, r.connected) for r in rows] == [
        ("0–17", 2, 1, 0, 0), ("18–34", 1, 1, 1, 0), ("50–64", 1, 1, 0, 0), ("65 and over", 1, 1, 1, 0),
        ("Date of birth not on file", 1, 1, 0, 0)]


def test_the_funnel_by_preferred_language_counts_a_chart_naming_none_in_the_practices_default(cast):
    Patient.objects.filter(practice=cast.practice).delete()
    spanish = patient(cast, 1, preferred_language="es")
    patient(cast, 2, preferred_language="es")                   # eligible, never offered
    patient(cast, 3, preferred_language="es", ssn="")           # no identity: not eligible
    english = patient(cast, 4, preferred_language="en")
    patient(cast, 5)                                            # names none: the practice's default
    invite(cast, spanish, at(3))
    invite(cast, english, at(4))
    with time_machine.travel(at(30), tick=False):
        practice = Practice.objects.get(pk=cast.practice.pk)
        rows = reports.by_language(Scope(practice), NOVEMBER)
        assert [(r.name, r.patients, r.eligible, r.never_offered, r.invited, r.connected) for r in rows] == [
            ("Spanish", 3, 2, 1, 1, 0), ("English", 2, 2, 1, 1, 0)]
        practice.default_language = "es"  # now the chart naming none counts with Spanish
        rows = reports.by_language(Scope(practice), NOVEMBER)
        assert [(r.code, r.patients, r.never_offered) for r in rows] == [("es", 4, 2), ("en", 1, 0)]


def test_connected_patients_over_time(cast):
    with time_machine.travel(at(10), tick=False):
        _, conn = connect(cast)
    Connection.objects.filter(pk=conn.pk).update(ended_at=at(20))
    with time_machine.travel(at(25), tick=False):
        points = dict(reports.connected_over_time(Scope(cast.practice), NOVEMBER))
    assert len(points) == 25  # daily, up to today
    assert (points[datetime.date(2026, 11, 9)], points[datetime.date(2026, 11, 10)],
            points[datetime.date(2026, 11, 19)], points[datetime.date(2026, 11, 20)]) == (0, 1, 1, 0)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="JIT is PostgreSQL's")
@pytest.mark.django_db(transaction=True)  # (outside a test's transaction: SET LOCAL lasts until the outermost ends)
def test_the_report_is_read_without_postgresqls_jit_and_the_connection_is_left_as_it_was():
    def jit() -> str:
        with connection.cursor() as cursor:
            cursor.execute("SHOW jit")
            return cursor.fetchone()[0]

    before = jit()
    with reports.planned_without_jit():
        assert jit() == "off"
    assert before == "on" and jit() == before


@pytest.mark.parametrize(("name", "first", "last"), [
    (reports.THIS_MONTH, datetime.date(2026, 11, 1), datetime.date(2026, 11, 30)),
    (reports.LAST_MONTH, datetime.date(2026, 10, 1), datetime.date(2026, 10, 31)),
    (reports.QUARTER, datetime.date(2026, 10, 1), datetime.date(2026, 12, 31)),
    (reports.YEAR, datetime.date(2026, 1, 1), datetime.date(2026, 12, 31)),
])
def test_named_periods(name, first, last):
    period = reports.named_period(name, datetime.date(2026, 11, 18), NY)
    assert (period.first, period.last) == (first, last)
    assert period.start == at(1, 0, month=first.month) and period.end.date() == last + datetime.timedelta(days=1)


def test_dates_the_wrong_way_round_are_refused():
    with pytest.raises(ValueError):
        reports.named_period(reports.DATES, datetime.date(2026, 11, 18), NY, first=datetime.date(2026, 11, 2),
                             last=datetime.date(2026, 11, 1))


def test_last_month_in_january_is_december():
    period = reports.named_period(reports.LAST_MONTH, datetime.date(2027, 1, 5), NY)
    assert (period.first, period.last) == (datetime.date(2026, 12, 1), datetime.date(2026, 12, 31))
