"""Re-invites (Practice.reinvite_after_days, reinvite_max): after N days without an answer, at most K
times, then the patient is left alone until staff act."""

import datetime

import pytest
import time_machine

from access.actions import automatic, expiry
from access.models import AccessEvent, Invitation
from access.tests.helpers import send
from conftest import NOW

DAY, SECOND = datetime.timedelta(days=1), datetime.timedelta(seconds=1)


def run_at(moment: datetime.datetime) -> int:
    """What run_periodic does for this: expire, then re-invite."""
    with time_machine.travel(moment, tick=False):
        expiry.expire_invitations()
        return automatic.send_reinvites()


@pytest.fixture
def every_30_days(cast):
    cast.practice.reinvite_after_days = 30
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)


def test_it_reinvites_at_exactly_n_days_after_the_unanswered_invitation(cast, every_30_days):
    assert run_at(NOW + 30 * DAY - SECOND) == 0
    assert run_at(NOW + 30 * DAY) == 1
    latest = Invitation.objects.order_by("-id").first()
    assert (latest.status, latest.channel, latest.sent_by, latest.reinvite_number) == ("pending", "automatic", None, 1)
    assert latest.expires_at == NOW + 37 * DAY
    event = AccessEvent.objects.get(invitation=latest, action=AccessEvent.Action.INVITATION_SENT)
    assert (event.actor_kind, event.reason) == ("system", "Re-invite: the previous invitation was not accepted")
    assert run_at(NOW + 30 * DAY + SECOND) == 0  # pending again: nothing to do


@pytest.mark.parametrize("days", [60, 90])
def test_it_follows_the_practices_number_of_days(cast, days):
    cast.practice.reinvite_after_days = days
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)
    assert run_at(NOW + days * DAY - SECOND) == 0
    assert run_at(NOW + days * DAY) == 1


def test_the_kth_reinvite_goes_and_no_k_plus_first(cast, every_30_days):
    cast.practice.reinvite_max = 2
    cast.practice.save()
    assert run_at(NOW + 30 * DAY) == 1
    assert run_at(NOW + 60 * DAY) == 1  # the 2nd (K-th)
    assert run_at(NOW + 90 * DAY) == 0  # no 3rd
    assert run_at(NOW + 400 * DAY) == 0
    assert list(Invitation.objects.order_by("id").values_list("reinvite_number", flat=True)) == [0, 1, 2]


def test_five_reinvites_at_most(cast, every_30_days):
    cast.practice.reinvite_max = 5
    cast.practice.save()
    assert sum(run_at(NOW + n * 30 * DAY) for n in range(1, 8)) == 5


def test_staff_sending_again_starts_the_count_again(cast, every_30_days):
    cast.practice.reinvite_max = 1
    cast.practice.save()
    assert run_at(NOW + 30 * DAY) == 1
    assert run_at(NOW + 60 * DAY) == 0  # left alone
    with time_machine.travel(NOW + 61 * DAY, tick=False):
        send(cast)
    assert run_at(NOW + 91 * DAY) == 1
    assert Invitation.objects.order_by("-id").first().reinvite_number == 1


@pytest.mark.parametrize("end", ["revoked", "locked"])
def test_a_revoked_or_locked_invitation_is_not_reinvited(cast, every_30_days, end):
    invitation = Invitation.objects.get()
    Invitation.objects.filter(pk=invitation.pk).update(status=end)
    assert run_at(NOW + 30 * DAY) == 0


def test_none_when_the_setting_is_off(cast):
    with time_machine.travel(NOW, tick=False):
        send(cast)
    assert run_at(NOW + 90 * DAY) == 0
