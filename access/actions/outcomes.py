"""What mail delivery reports back about invitation emails: delivered, failed (staff told) or skipped
because the invitation was no longer pending."""


from django.utils import timezone
from django.utils.translation import gettext_noop

from access import history
from access.actions.notifications import notify_many
from access.actions.steps import record_invitation_event, unusable_reason
from access.history import Actor
from access.models import AccessEvent, Channel, Invitation
from portico.bulk import among

Action = AccessEvent.Action


def record_email_outcome(invitation_id: int, *, delivered: bool) -> None:
    """Record whether an invitation email was delivered: record_email_outcomes for one."""
    record_email_outcomes([invitation_id], delivered=delivered)


def record_email_outcomes(invitation_ids: list[int], *, delivered: bool) -> None:
    """Record whether invitation emails (one id per email: an invitation may come twice, with its
    reminder) were delivered: one event each, from one read and one INSERT however many; staff are
    told of each that was not. Runs inside the delivery's transaction."""
    rows = {i.pk: i for i in Invitation.objects.filter(pk__in=among(set(invitation_ids))).values_list(
        "pk", "practice_id", "patient_id", "channel", "sent_by_id", named=True)}
    invitations = [rows[pk] for pk in invitation_ids]
    action, outcome = ((Action.EMAIL_SENT, AccessEvent.Outcome.SUCCESS) if delivered
                       else (Action.EMAIL_FAILED, AccessEvent.Outcome.FAILURE))
    history.append([history.new_event(i.practice_id, action, actor=Actor.system(), patient=i.patient_id,
                                      invitation=i.pk, channel=i.channel, outcome=outcome) for i in invitations],
                   chain_now=True)  # the mail worker, in the background
    if not delivered:
        notify_many([(i.practice_id, i.patient_id, i.sent_by_id) for i in invitations],
                    gettext_noop("The portal invitation email to {name} could not be delivered."), timezone.now(),
                    summary=gettext_noop("{count} portal invitation emails could not be delivered. The patient list "
                                         "marks them “Email failed”."))


def record_email_skipped(invitation_id: int) -> None:
    """Record that an invitation's email (or reminder) was not sent because, by the time the worker
    reached it, the invitation was no longer pending. Runs inside the delivery's transaction."""
    invitation = Invitation.objects.select_related("practice", "patient").get(pk=invitation_id)
    why = unusable_reason(invitation, timezone.now()) or "reissued for a reminder"
    record_invitation_event(invitation, Action.EMAIL_SKIPPED, actor=Actor.system(), reason=f"The invitation was {why}")


def record_text_outcome(invitation_id: int, *, delivered: bool, error_code: str = "") -> None:
    """Record what became of an invitation's (or reminder's) text: delivered, or not (staff told on the
    bell, and the patient list's Needs attention shows it while the invitation is pending). Runs inside
    the callback's or the worker's transaction."""
    i = Invitation.objects.values_list("pk", "practice_id", "patient_id", "sent_by_id", named=True).get(pk=invitation_id)
    action, outcome = ((Action.TEXT_DELIVERED, AccessEvent.Outcome.SUCCESS) if delivered
                       else (Action.TEXT_FAILED, AccessEvent.Outcome.FAILURE))
    history.append([history.new_event(i.practice_id, action, actor=Actor.system(), patient=i.patient_id,
                                      invitation=i.pk, channel=Channel.TEXT, outcome=outcome,
                                      reason=f"Provider error {error_code}" if error_code else "")])
    if not delivered:
        notify_many([(i.practice_id, i.patient_id, i.sent_by_id)],
                    gettext_noop("The portal invitation text to {name} could not be delivered."), timezone.now(),
                    summary=gettext_noop("{count} portal invitation texts could not be delivered."))


def record_text_skipped(invitation_id: int, reason: str) -> None:
    invitation = Invitation.objects.select_related("practice", "patient").get(pk=invitation_id)
    record_invitation_event(invitation, Action.TEXT_NOT_SENT, actor=Actor.system(), channel=Channel.TEXT,
                            reason=f"Not sent: {reason}")
