"""What an email is and what it is about are typed columns of its outbox row (Message.kind, one of
Message.Kind, and Message.invitation_id), never keys of its context: access reads them to skip mail no
longer needed and to record outcomes in the right history."""

import datetime
from pathlib import Path

import time_machine
from django.contrib.auth import get_user_model

import mail
from access.actions import (
    acceptance,
    automatic,
    caregivers,
    email_confirmation,
    printing,
    proxies,
    proxy_acceptance,
    requests,
    sending,
)
from access.tests.helpers import connect, right_answers, send
from conftest import NOW
from mail import messages
from mail.models import Message

PARTS = ("subject.txt", "body.txt", "body.html")


def test_every_kind_has_its_templates_and_every_email_template_a_kind():
    folder = Path(mail.__file__).parent / "templates" / "mail"
    emails = {path.name for path in folder.iterdir() if not path.name.startswith("_")}  # _contact: included
    assert emails == {f"{kind}-{part}" for kind in Message.Kind.values for part in PARTS}


def test_an_invitation_email_and_its_reminder_name_their_invitation_in_a_typed_column(cast):
    with time_machine.travel(NOW, tick=False):
        sent = send(cast)
    with time_machine.travel(NOW + datetime.timedelta(days=5), tick=False):  # 7-day invitations, reminded 2 days before
        assert automatic.send_reminders() == 1
    rows = Message.objects.order_by("id").values_list("kind", "invitation_id", "dedupe_key")
    assert list(rows) == [(Message.Kind.INVITATION, sent.invitation.pk, f"invitation:{sent.invitation.pk}"),
                          (Message.Kind.REMINDER, sent.invitation.pk, f"reminder:{sent.invitation.pk}")]
    assert [sorted(c) for c in Message.objects.order_by("id").values_list("context", flat=True)] == [
        ["expires", "language", "practice", "practice_note", "practice_phone"]] * 2


def test_only_the_mail_carrying_an_invitations_link_names_an_invitation(cast):
    sent, connection = connect(cast)  # the invitation, then the connected confirmation
    invited = caregivers.invite_caregiver(connection, caregivers.Caregiver(  # the caregiver-invitation
        first_name="Robin", last_name="Jones", email="robin@example.test", relationship="spouse", level="full"))
    token = Message.objects.get(kind=Message.Kind.CAREGIVER_INVITATION).secret_link.rstrip("/").rsplit("/", 1)[1]
    proof = proxy_acceptance.verify_proxy_identity(token, proxy_acceptance.ProxyAnswers(code=invited.code)).proof
    robin = proxy_acceptance.accept_proxy_invitation(  # proxy-connected, and caregiver-accepted to Pat
        token, proof=proof, password="a-long-enough-password")
    proxies.revoke_proxy(robin, by=cast.alice)  # the proxy-revoked notice
    sending.revoke_invitation(cast.pat, by=cast.alice)  # the access-revoked notice
    messages.queue_digests([(cast.dora, [])])
    messages.queue_password_reset(get_user_model().objects.get(pk=connection.account_id), "set-password-token")
    declined, lapsed = (requests.request_access(cast.practice, first_name="Pat", last_name="Jones", email=email,
                                                date_of_birth=datetime.date(1980, 5, 17), phone="+15555550123")
                        for email in ("a@example.test", "b@example.test"))
    requests.decline_request(declined, reason="contact_us", by=cast.alice)  # the request-declined notice
    messages.queue_requests_lapsed([lapsed], days=30)  # the request-lapsed notice
    printed = printing.print_invitation(cast.bea, by=cast.bob).code.replace("-", "")
    proof = acceptance.verify_identity(printed, right_answers(cast.bea)).proof
    email_confirmation.send_email_code(printed, proof=proof, email="bea.new@example.test")  # the email-code
    named = dict(Message.objects.values_list("kind", "invitation_id"))
    assert named == {"invitation": sent.invitation.pk, "connected": None, "access-revoked": None, "digest": None,
                     "password-reset": None, "request-declined": None, "request-lapsed": None, "email-code": None,
                     "caregiver-invitation": None, "proxy-connected": None, "caregiver-accepted": None,
                     "proxy-revoked": None}
    # Every other kind, queued for real; a guardian's mail (the staff side of issue 21) names no invitation
    # either (each of its kinds is queued in access/tests/test_proxy_birthdays.py).
    proxy_mail = {Message.Kind.PROXY_INVITATION, Message.Kind.PROXY_REMINDER, Message.Kind.PROXY_ENDING,
                  Message.Kind.PROXY_ENDED}
    assert set(named) == set(Message.Kind.values) - {Message.Kind.REMINDER} - proxy_mail
