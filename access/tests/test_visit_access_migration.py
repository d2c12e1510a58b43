"""The summary's backfill (access 0022, which fills the table 0012 made, with the pairs' chained
columns): the completed visits already on file get their summary rows, the same as the actions would
have kept (run by Django's migration executor, forwards and back)."""

import datetime

import pytest

BEFORE = [("access", "0011_access_request_attempts"), ("clinic", "0007_practice_holidays_and_reports")]
AFTER = [("access", "0022_visit_access_pairs")]
VISIT = datetime.datetime(2026, 11, 6, 15, 0, tzinfo=datetime.UTC)  # Friday, 10 AM in New York


@pytest.mark.django_db(transaction=True)
def test_the_backfill_summarises_every_completed_visit_on_file(migrate):
    apps = migrate(BEFORE)
    Practice, Patient, StaffMember, Appointment, Invitation, User = (
        apps.get_model(*name) for name in (("clinic", "Practice"), ("clinic", "Patient"), ("clinic", "StaffMember"),
                                           ("clinic", "Appointment"), ("access", "Invitation"), ("auth", "User")))
    practice = Practice.objects.create(name="Old Practice", time_zone="America/New_York")
    doctor = StaffMember.objects.create(user=User.objects.create(username="old-doctor"), practice=practice,
                                        role="doctor")
    patients = [Patient.objects.create(practice=practice, chart_number=f"O-{n}", first_name="Old", last_name=f"P{n}",
                                       email=f"o{n}@example.test" if n else "", ssn_last4="6789" if n else "")
                for n in range(3)]
    visits = [Appointment.objects.create(practice=practice, patient=p, doctor=doctor, starts_at=VISIT,
                                         ends_at=VISIT + datetime.timedelta(minutes=30),
                                         status="completed" if n < 2 else "cancelled") for n, p in enumerate(patients)]
    Invitation.objects.create(practice=practice, patient=patients[1], token_hash="x" * 64, email="o1@example.test",
                              channel="chart", sent_at=VISIT + datetime.timedelta(days=2),
                              expires_at=VISIT + datetime.timedelta(days=9))

    VisitAccess = migrate(AFTER).get_model("access", "VisitAccess")
    assert sorted(VisitAccess.objects.values_list("appointment_id", "timely", "has_email", "has_identity", "deadline",
                                                  "next_starts_at", "last_timely_at")) == [
        (visits[0].pk, False, False, False, datetime.datetime(2026, 11, 13, 5, 0, tzinfo=datetime.UTC), None, None),
        (visits[1].pk, True, True, True, datetime.datetime(2026, 11, 13, 5, 0, tzinfo=datetime.UTC), None, VISIT),
    ]
