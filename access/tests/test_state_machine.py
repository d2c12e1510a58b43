"""A Hypothesis state machine over every access action, checked against a small model.

Invariants after every step: at most one link works per patient, and only the one the model says;
no link works after revoke, expiry, acceptance or lock; every state change in the tables has exactly
one history event; the history chain verifies, and stops verifying when any one event is edited."""

import datetime
import itertools

import pytest
import time_machine
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule, run_state_machine_as_test

from access import errors, rules
from access.actions import acceptance, expiry, sending
from access.history import first_broken_event, seal
from access.models import AccessEvent, Channel, Connection, Invitation
from clinic.models import Patient, Practice, StaffMember
from clinic.services import update_patient
from conftest import NOW

RIGHT = acceptance.IdentityAnswers(ssn="123-45-6789")
WRONG = acceptance.IdentityAnswers(ssn="987-65-4321")
TTL = datetime.timedelta(days=7)
_ids = itertools.count()


class AccessMachine(RuleBasedStateMachine):
    def __init__(self):
        super().__init__()
        n = next(_ids)
        self.traveller = time_machine.travel(NOW, tick=False)
        self.clock = self.traveller.start()
        self.practice = Practice.objects.create(name=f"Machine {n}")
        staff_user = StaffMember._meta.get_field("user").related_model.objects.create_user(username=f"staff{n}")
        self.staff = StaffMember.objects.create(user=staff_user, practice=self.practice)
        self.patient = Patient.objects.create(practice=self.practice, chart_number="M", first_name="M", last_name="M",
                                              email=f"m{n}@example.test", ssn="123456789")
        self.tokens: list[str] = []
        self.sent_at: list[datetime.datetime] = []
        self.live: str | None = None  # the one token the model says works
        self.expires_at = None
        self.verified = None  # when the identity check on the live link passed
        self.proof = "none yet"
        self.failures = 0
        self.connected = False
        self.has_account = False

    def teardown(self):
        self.traveller.stop()

    # --- the model's view of time -----------------------------------------------------------
    def _now(self):
        from django.utils import timezone

        return timezone.now()

    def _settle(self):
        if self.live and self._now() >= self.expires_at:
            self.live, self.verified = None, None

    def _flooded(self) -> bool:
        day_ago = self._now() - datetime.timedelta(days=1)
        return len([t for t in self.sent_at if t > day_ago]) >= rules.MAX_INVITATIONS_PER_DAY

    def _issued(self, sent):
        self.sent_at.append(sent.invitation.sent_at)
        self.tokens.append(sent.token)
        self.live, self.expires_at, self.verified, self.failures = sent.token, sent.invitation.expires_at, None, 0

    # --- rules ------------------------------------------------------------------------------
    @rule(channel=st.sampled_from([Channel.CHART, Channel.APPOINTMENT]))
    def send(self, channel):
        self._settle()
        if self.patient.email and not self.live and not self.connected and not self._flooded():
            self._issued(sending.send_invitation(self.patient, by=self.staff, channel=channel))
        else:
            with pytest.raises(errors.Refusal):
                sending.send_invitation(self.patient, by=self.staff, channel=channel)

    @rule()
    def revoke(self):
        self._settle()
        if self.live or self.connected:
            sending.revoke_invitation(self.patient, by=self.staff)
            # A pending invitation and a connection never coexist: send refuses a connected patient.
            if self.live:
                self.live = None
            else:
                self.connected = False
        else:
            with pytest.raises(errors.NothingToRevoke):
                sending.revoke_invitation(self.patient, by=self.staff)

    @rule()
    def resend(self):
        self._settle()
        if self.connected or not self.patient.email or self._flooded():
            with pytest.raises(errors.Refusal):
                sending.resend_invitation(self.patient, by=self.staff, channel=Channel.CHART)
        else:
            self._issued(sending.resend_invitation(self.patient, by=self.staff, channel=Channel.CHART))

    @rule(email=st.sampled_from(["", "same", "new"]))
    def change_email(self, email):
        self._settle()
        value = {"": "", "same": self.patient.email.upper(), "new": f"n{next(_ids)}@example.test"}[email]
        changed = value.lower() != self.patient.email.lower()
        self.patient = update_patient(self.patient, by=self.staff, email=value)
        if changed:
            self.live = None

    @rule(right=st.booleans())
    def verify(self, right):
        self._settle()
        token = self.live or (self.tokens[-1] if self.tokens else "x" * 43)
        if not self.live:
            with pytest.raises(errors.LinkNotUsable):
                acceptance.verify_identity(token, RIGHT if right else WRONG)
        elif right:
            self.proof = acceptance.verify_identity(token, RIGHT).proof
            self.verified = self._now()
        else:
            self.failures += 1
            with pytest.raises(errors.LinkNotUsable if self.failures == 3 else errors.IdentityNotConfirmed):
                acceptance.verify_identity(token, WRONG)
            if self.failures == 3:
                self.live = None

    @rule()
    def accept(self):
        self._settle()
        token = self.live or (self.tokens[-1] if self.tokens else "x" * 43)
        kwargs = {"account": Connection.objects.filter(patient=self.patient).first().account} if self.has_account \
            else {"password": "a-long-enough-password"}
        kwargs["proof"] = self.proof
        fresh = self.verified and self._now() - self.verified < acceptance.IDENTITY_CHECK_VALID_FOR
        if self.live and fresh:
            acceptance.accept_invitation(token, **kwargs)
            self.live, self.connected, self.has_account = None, True, True
        else:
            with pytest.raises(errors.Refusal):
                acceptance.accept_invitation(token, **kwargs)

    @rule()
    def disconnect(self):
        connection = Connection.objects.filter(patient=self.patient, ended_at__isnull=True).first()
        assert (connection is not None) == self.connected
        if connection:
            acceptance.disconnect_practice(connection)
            self.connected = False

    @rule(step=st.sampled_from([datetime.timedelta(seconds=1), datetime.timedelta(minutes=31),
                                datetime.timedelta(days=3), TTL - datetime.timedelta(seconds=1), TTL]))
    def advance_clock(self, step):
        self.clock.shift(step)

    @rule()
    def run_expiry_job(self):
        expiry.expire_invitations()

    # --- invariants -------------------------------------------------------------------------
    @invariant()
    def only_the_live_token_works(self):
        self._settle()
        working = []
        for token in self.tokens:
            try:
                acceptance.invitation_for_token(token)
                working.append(token)
            except errors.LinkNotUsable:
                pass
        assert working == ([self.live] if self.live else [])
        assert Invitation.objects.filter(patient=self.patient, status="pending").count() <= 1

    @invariant()
    def every_state_change_has_one_event(self):
        events = AccessEvent.objects.filter(patient=self.patient)
        invitations = Invitation.objects.filter(patient=self.patient)
        connections = Connection.objects.filter(patient=self.patient)

        def count(action):
            return events.filter(action=action).count()

        assert count("invitation.sent") == invitations.count()
        for status, action in (("revoked", "invitation.revoked"), ("expired", "invitation.expired"),
                               ("locked", "invitation.locked"), ("accepted", "access.granted")):
            assert count(action) == invitations.filter(status=status).count(), action
        assert count("access.granted") == connections.count()
        assert count("access.revoked") == connections.filter(end_reason="revoked").count()
        assert count("access.disconnected") == connections.filter(end_reason="disconnected").count()
        assert count("identity.failed") == sum(invitations.values_list("failed_checks", flat=True))

    @rule(data=st.data(), field=st.sampled_from(["reason", "actor_role", "action", "outcome", "at"]))
    def tamper_with_one_event(self, data, field):
        """Edit any single event: verification must name it; put it back: verification passes."""
        ids = list(AccessEvent.objects.filter(practice=self.practice).order_by("id").values_list("id", flat=True))
        if not ids:
            return
        event = AccessEvent.objects.get(pk=data.draw(st.sampled_from(ids)))
        original = getattr(event, field)
        forged = original + datetime.timedelta(microseconds=1) if field == "at" else f"{original}x"
        AccessEvent.objects.filter(pk=event.pk).update(**{field: forged})
        assert first_broken_event(self.practice) == (event.pk, "this event was altered")
        AccessEvent.objects.filter(pk=event.pk).update(**{field: original})

    @invariant()
    def history_verifies(self):
        seal(self.practice)  # what follows each commit outside a test's transaction (access.history)
        assert first_broken_event(self.practice) is None


@pytest.mark.django_db
def test_access_state_machine():
    run_state_machine_as_test(
        AccessMachine,
        settings=settings(max_examples=30, stateful_step_count=25, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture]),
    )
