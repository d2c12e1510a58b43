import datetime
import random
from contextlib import contextmanager
from unittest import mock

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from access import errors, proxy_rules, tokens
from access.actions import acceptance, expiry, proxies, requests, sending, texting, visit_access
from access.models import Channel, Invitation, TextConsent
from access.selectors import PortalState, in_portal_state
from clinic.models import Appointment, Patient, Practice, StaffMember

DEMO = "Demo Family Practice"
OTHER = "Riverside Pediatrics"
SPANISH = 31  # the demo patient who prefers Spanish (pending, with an SSN on file)
STAFF_PASSWORD = "portico-demo-staff"  # noqa: S105 (demo data, printed on purpose)
PATIENT_PASSWORD = "portico-demo-patient"  # noqa: S105
MANAGER = "manager"  # the practice admin: Import patients is for admins

FIRST = ["Ava", "Liam", "Maya", "Noah", "Zoe", "Ethan", "Lena", "Omar", "Sofia", "Mateo", "Grace", "Yusuf",
         "Chloe", "Hiro", "Amara", "Lucas", "Nadia", "Owen", "Priya", "Diego", "Hana", "Isaac", "Jade", "Kofi", "Rosa"]
LAST = ["Nguyen", "Garcia", "Okafor", "Smith", "Kowalski", "Haddad", "Johansson", "Patel", "Rossi", "Kim",
        "Moreau", "Silva", "O'Brien", "Tanaka", "Mensah", "Schmidt", "Alvarez", "Cohen", "Dubois", "Ivanova"]


@contextmanager
def clock_at(moment: datetime.datetime):
    """Make the domain functions believe it is `moment`, so seeded history has realistic dates."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


class Command(BaseCommand):
    help = "Load a demo practice: staff, ~50 patients in every portal state, this week's appointments. Idempotent."

    def handle(self, *args, **options):
        demo = Practice.objects.filter(name=DEMO).first()
        if demo is None:
            self._seed()
        elif self._add_manager(demo):
            self.stdout.write("Demo data already loaded; added the practice admin login.")
        else:
            self.stdout.write("Demo data already loaded; nothing changed.")
        self._print_logins()

    def _add_manager(self, demo: Practice) -> bool:
        """Demo data loaded before the admin login existed gets it too, so the printed login works."""
        if get_user_model().objects.filter(username=MANAGER).exists():
            return False
        _staff(MANAGER, "Jo", "Rivera", demo, StaffMember.Role.ADMIN)
        return True

    def _seed(self) -> None:
        rng = random.Random(2026)
        with transaction.atomic():
            # Settings to try (Settings page, as "manager"): invite when booked, remind 2 days before,
            # re-invite after 30 days at most 3 times.
            demo = Practice.objects.create(
                name=DEMO, time_zone="America/New_York", phone="+15555550100",
                patient_contact_note="The front desk answers weekdays, 8 AM to 5 PM.",
                auto_invite=Practice.AutoInvite.BOOKED, reminder_days_before=2, reinvite_after_days=30, reinvite_max=3,
                invite_by=Practice.InviteBy.EMAIL_AND_TEXT)
            other = Practice.objects.create(name=OTHER, time_zone="America/Chicago")
            doctor = _staff("doctor", "Maria", "Alvarez", demo, StaffMember.Role.DOCTOR)
            frontdesk = _staff("frontdesk", "Sam", "Lee", demo, StaffMember.Role.STAFF)
            _staff(MANAGER, "Jo", "Rivera", demo, StaffMember.Role.ADMIN)
            other_doctor = _staff("other-doctor", "Ken", "Okafor", other, StaffMember.Role.DOCTOR)
            patients = [_patient(demo, doctor, i, rng) for i in range(50)]
            others = [_patient(other, other_doctor, i, rng) for i in range(8)]
            _appointments(demo, doctor, patients, rng)
            _appointments(other, other_doctor, others, rng)
        self._invite(patients, frontdesk)
        self.stdout.write(f"Loaded {DEMO} ({len(patients)} patients) and {OTHER} ({len(others)} patients).")

    def _invite(self, patients: list[Patient], by: StaffMember) -> None:
        now = timezone.now()
        # One pending invitation to try in Spanish: its email (Mailbox) and the pages its link opens.
        Patient.objects.filter(pk=patients[SPANISH].pk).update(preferred_language="es")
        patients[SPANISH].refresh_from_db()
        for p in patients[2:6]:  # agreed to texts: Enable Patient Access texts them too (the Phone page)
            texting.record_text_consent(p, number=f"+1555555{1000 + p.pk:04d}", consented=True,
                                        source=TextConsent.Source.STAFF_SPOKEN, by=by)
        for p in patients[30:36]:  # pending
            with clock_at(now - datetime.timedelta(days=random.Random(p.pk).randint(0, 5), hours=3)):
                sending.send_invitation(p, by=by, channel=Channel.CHART)
        for p in patients[36:42]:  # connected
            with clock_at(now - datetime.timedelta(days=12)):
                sent = sending.send_invitation(p, by=by, channel=Channel.APPOINTMENT)
            with clock_at(now - datetime.timedelta(days=11)):
                proof = acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn=p.ssn) if p.ssn else
                                        acceptance.IdentityAnswers(date_of_birth=p.date_of_birth, phone=p.phone)).proof
                acceptance.accept_invitation(sent.token, proof=proof, password=PATIENT_PASSWORD)
        for p in patients[42:46]:  # expired
            with clock_at(now - datetime.timedelta(days=9)):
                sending.send_invitation(p, by=by, channel=Channel.CHART)
        _past_visits(patients[0].practice, patients, by)
        expiry.expire_invitations()
        _access_requests(patients[0].practice, patients[:2])
        _family(patients[0].practice, patients[0].doctor, by)

    def _print_logins(self) -> None:
        # A live connection, not merely "no ended one": patients never connected must not match.
        demo = Practice.objects.get(name=DEMO)
        connected = in_portal_state(Patient.objects.filter(practice=demo), PortalState.CONNECTED,
                                    practice_id=demo.pk).order_by("pk").first()
        self.stdout.write("")
        self.stdout.write("Demo logins (development only):")
        self.stdout.write(f"  staff   doctor / {STAFF_PASSWORD}   (Demo Family Practice, doctor)")
        self.stdout.write(f"  staff   frontdesk / {STAFF_PASSWORD}   (Demo Family Practice, front desk)")
        self.stdout.write(f"  staff   {MANAGER} / {STAFF_PASSWORD}   (Demo Family Practice, practice admin: "
                          f"can import patients)")
        self.stdout.write(f"  staff   other-doctor / {STAFF_PASSWORD}   (Riverside Pediatrics: sees none of the demo patients)")
        self.stdout.write("  Demo SSNs are 123-45- plus the last four digits the chart shows (e.g. ***-**-1001 is 123-45-1001).")
        self.stdout.write(f"  Request portal access page (open requests are under Access requests): "
                          f"{settings.PORTICO_BASE_URL}{reverse('portal:request-access', args=[demo.pk])}")
        if connected:
            self.stdout.write(f"  patient {connected.email} / {PATIENT_PASSWORD}   (portal account, connected)")
        spanish = Patient.objects.filter(practice=demo, preferred_language="es").order_by("pk").first()
        if spanish:
            self.stdout.write(f"  a patient who prefers Spanish: {spanish.full_name} (chart {spanish.chart_number}); "
                              f"the Mailbox has their invitation in Spanish, its link opens Spanish pages")
        if link := _expired_link(demo):
            self.stdout.write(f"  an expired invitation link, to renew: {link}")
        self.stdout.write(_family_line())


FAMILY_EMAIL = "jordan.rivera@example.test"


def _family(practice: Practice, doctor: StaffMember, by: StaffMember) -> None:
    """Proxy access (issue 21): a parent who is a patient too, a child of 8 and one who turns 18 next
    week (the guardian's access then ends by itself, and the practice invites them: it invites when
    booked), with the parent invited as guardian for both children (the Mailbox has both emails)."""
    today = timezone.localdate(timezone=practice.tzinfo)
    parent = Patient.objects.create(practice=practice, doctor=doctor, chart_number=f"{practice.pk:02d}-2000",
                                    first_name="Jordan", last_name="Rivera", email=FAMILY_EMAIL, ssn="123452000",
                                    date_of_birth=datetime.date(1986, 4, 12), phone="+15555552000")
    born_8 = today.replace(year=today.year - 8, day=min(today.day, 28))
    almost_18 = proxy_rules.turns(today + datetime.timedelta(days=7), -18)  # 18 a week from today
    children = [
        Patient.objects.create(practice=practice, doctor=doctor, chart_number=f"{practice.pk:02d}-2001",
                               first_name="Alex", last_name="Rivera", date_of_birth=born_8),
        Patient.objects.create(practice=practice, doctor=doctor, chart_number=f"{practice.pk:02d}-2002",
                               first_name="Casey", last_name="Rivera", date_of_birth=almost_18,
                               email="casey.rivera@example.test", ssn="123452002", phone="+15555552002"),
    ]
    guardian = proxies.Guardian(first_name=parent.first_name, last_name=parent.last_name, relationship="mother",
                                email=parent.email, mobile_phone="+15555552000")
    for child in children:
        proxies.invite_guardian(child, guardian, by=by)


def _family_line() -> str:
    children = Patient.objects.filter(proxies__email=FAMILY_EMAIL).distinct().order_by("date_of_birth")
    named = ", ".join(f"{c.full_name} (born {c.date_of_birth:%Y-%m-%d})" for c in children)
    return f"  a family: Jordan Rivera (patient, {FAMILY_EMAIL}) is invited as parent of {named}"


def _expired_link(practice: Practice) -> str:
    """A working link to the first renewable expired invitation. Only a token's hash is kept, so the
    demo gives that (already dead) invitation a fresh token each run: development only."""
    invitation = (Invitation.objects.filter(practice=practice, status=Invitation.Status.EXPIRED)
                  .exclude(patient__invitations__status__in=[Invitation.Status.PENDING, Invitation.Status.ACCEPTED])
                  .order_by("pk").first())
    if invitation is None:
        return ""
    token = tokens.new_token()
    Invitation.objects.filter(pk=invitation.pk).update(token_hash=tokens.hash_token(token))
    return settings.PORTICO_BASE_URL + reverse("portal:landing", args=[token])


def _staff(username, first, last, practice, role) -> StaffMember:
    # Practice logins are never admin users: the admin is for operators (portico/admin.py).
    user = get_user_model().objects.create_user(
        username=username, password=STAFF_PASSWORD, first_name=first, last_name=last,
        email=f"{username}@portico.test",
    )
    return StaffMember.objects.create(user=user, practice=practice, role=role)


def _patient(practice: Practice, doctor: StaffMember, i: int, rng: random.Random) -> Patient:
    first, last = FIRST[i % len(FIRST)], LAST[(i * 7) % len(LAST)]
    has_email = not 20 <= i < 25
    has_ssn = i % 3 != 0 and not 25 <= i < 30
    has_dob_phone = i % 3 == 0 and not 25 <= i < 30
    return Patient.objects.create(
        practice=practice, doctor=doctor, chart_number=f"{practice.pk:02d}-{1000 + i}",
        first_name=first, last_name=last,
        email=f"{first}.{last}.{practice.pk}{i}@example.test".lower().replace("'", "") if has_email else "",
        # Every demo SSN is 123-45- and the four digits the chart shows, so a tester can pass the check.
        ssn=f"12345{1000 + i:04d}" if has_ssn else "",
        date_of_birth=datetime.date(rng.randint(1940, 2015), rng.randint(1, 12), rng.randint(1, 28))
        if has_dob_phone or i % 2 else None,
        phone=f"+1555{rng.randint(2000000, 9999999)}" if has_dob_phone else "",
    )


def _appointments(practice: Practice, doctor: StaffMember, patients: list[Patient], rng: random.Random) -> None:
    today = timezone.localdate(timezone=practice.tzinfo)
    monday = today - datetime.timedelta(days=today.weekday())
    days = sorted({today, *(monday + datetime.timedelta(days=d) for d in range(5))})
    # Today always includes a patient with no email, so the appointment window's "enter it, then send" works.
    todays = [p for p in patients if not p.email][:1] + rng.sample(patients, min(6, len(patients)))
    for day in days:
        chosen = todays if day == today else rng.sample(patients, min(5, len(patients)))
        for slot, patient in enumerate(dict.fromkeys(chosen)):
            nine = datetime.datetime.combine(day, datetime.time(9, 0), tzinfo=practice.tzinfo)
            start = nine + datetime.timedelta(minutes=45 * slot)
            Appointment.objects.create(practice=practice, patient=patient, doctor=doctor, starts_at=start,
                                       ends_at=start + datetime.timedelta(minutes=30), reason="Follow-up visit")


def _past_visits(practice: Practice, patients: list[Patient], by: StaffMember) -> None:
    """Four months of completed visits, and invitations sent (some late, some never) and accepted after
    some of them, so Reports has a funnel, a line and a measure to show."""
    rng, now = random.Random(24), timezone.now()
    today = timezone.localdate(timezone=practice.tzinfo)
    doctor = StaffMember.objects.get(practice=practice, role=StaffMember.Role.DOCTOR)
    invitable = patients[2:14]  # patients 0-1 stay never invited (access requests), 14+ keep their states
    for week in range(17, 0, -1):
        monday = today - datetime.timedelta(days=today.weekday() + 7 * week)
        for patient in rng.sample(patients[:30], 4):
            start = datetime.datetime.combine(monday + datetime.timedelta(days=rng.randint(0, 4)),
                                              datetime.time(rng.randint(9, 16)), tzinfo=practice.tzinfo)
            Appointment.objects.create(practice=practice, patient=patient, doctor=doctor, starts_at=start,
                                       ends_at=start + datetime.timedelta(minutes=30), reason="Visit",
                                       status=Appointment.Status.COMPLETED)
            if patient not in invitable or rng.random() < 0.3:
                continue
            with clock_at(min(start + datetime.timedelta(days=rng.choice([0, 1, 2, 3, 8])), now).astimezone(datetime.UTC)):
                try:
                    sent = sending.send_invitation(patient, by=by, channel=Channel.APPOINTMENT)
                except errors.InvitationError:
                    continue  # already pending or connected: as at a real front desk
            if rng.random() < 0.5:
                with clock_at(min(start + datetime.timedelta(days=3), now).astimezone(datetime.UTC)):
                    proof = acceptance.verify_identity(sent.token, acceptance.IdentityAnswers(ssn=patient.ssn)
                                                       if patient.ssn else acceptance.IdentityAnswers(
                                                           date_of_birth=patient.date_of_birth, phone=patient.phone)).proof
                    acceptance.accept_invitation(sent.token, proof=proof, password=PATIENT_PASSWORD)
    # The visits were written as history, not completed one by one: the report's summary from them all.
    visit_access.rebuild(practice)


def _access_requests(practice: Practice, never_invited: list[Patient]) -> None:
    """Open requests to try on Access requests: one matching a chart but giving another email (approve
    asks whether to update the chart's), and one matching no chart (decline, or New patient)."""
    chart = never_invited[0]
    requests.request_access(practice, first_name=chart.first_name.upper(), last_name=chart.last_name,
                   date_of_birth=chart.date_of_birth, email=f"{chart.first_name.lower()}.new@example.com",
                   phone=chart.phone, note="I changed my email address last year.")
    requests.request_access(practice, first_name="Robin", last_name="Vance-Oduya", date_of_birth=datetime.date(1991, 3, 8),
                   email="robin.vance@example.com", phone="+15555550188")
