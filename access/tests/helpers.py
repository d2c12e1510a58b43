"""Small helpers shared by the access tests."""

from access.actions import acceptance, sending
from access.models import AccessEvent, Channel, Connection, Invitation, TextConsent
from clinic.models import Patient
from mail.models import Message
from sms.models import TextMessage


def snapshot() -> dict:
    """Everything an access action may change, to assert that a refusal changed nothing."""
    return {
        "invitations": list(Invitation.objects.order_by("pk").values()),
        "connections": list(Connection.objects.order_by("pk").values()),
        "events": AccessEvent.objects.count(),
        "messages": Message.objects.count(),
        "texts": TextMessage.objects.count(),
        "consents": list(TextConsent.objects.order_by("pk").values()),
        "mobiles": list(Patient.objects.order_by("pk").values_list("mobile_phone", flat=True)),
    }


def actions_of(patient) -> list[str]:
    """The patient's history, oldest first."""
    return list(AccessEvent.objects.filter(patient=patient).order_by("id").values_list("action", flat=True))


def right_answers(patient) -> acceptance.IdentityAnswers:
    return acceptance.IdentityAnswers(ssn=patient.ssn)


def send(cast, patient=None, channel=Channel.CHART) -> sending.SentInvitation:
    return sending.send_invitation(patient or cast.pat, by=cast.alice, channel=channel)


def connect(cast, patient=None, password="a-long-enough-password") -> tuple[sending.SentInvitation, Connection]:
    patient = patient or cast.pat
    sent = send(cast, patient)
    proof = acceptance.verify_identity(sent.token, right_answers(patient)).proof
    return sent, acceptance.accept_invitation(sent.token, proof=proof, password=password)
