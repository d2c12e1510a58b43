"""A background writer appending many events at once (chain_now) chains them itself, each written once;
otherwise they are written unsealed and sealed after commit. Either way the chain verifies and names an
edit."""

import datetime
import threading

import pytest
from django.db import connection, transaction
from django.utils import timezone

from access import history
from access.actions import expiry, jobs, sending
from access.history import Actor, first_broken_event, record, unsealed_count
from access.models import AccessEvent, Invitation
from access.tests.test_send_invitations import make_patients
from clinic.models import Patient
from conftest import at_once, postgres_only


def sign_ins(cast, count: int, practice=None) -> list[AccessEvent]:
    practice = practice or cast.practice
    return [history.new_event(practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))
            for _ in range(count)]


def test_events_appended_with_chain_now_are_chained_before_commit_and_verify(cast):
    with transaction.atomic():
        history.append(sign_ins(cast, 3, cast.other_practice) + sign_ins(cast, 5), chain_now=True)
        chained = list(AccessEvent.objects.order_by("id").values_list("practice_id", "sequence"))
    assert chained == [(cast.other_practice.pk, n) for n in (1, 2, 3)] + [(cast.practice.pk, n) for n in range(1, 6)]
    assert first_broken_event(cast.practice) is None and first_broken_event(cast.other_practice) is None


def test_events_appended_otherwise_are_written_unsealed_and_sealed_after_commit(
        cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        history.append(sign_ins(cast, 5))
        assert unsealed_count(cast.practice) == 5
    assert unsealed_count(cast.practice) == 0
    assert first_broken_event(cast.practice) is None


def test_events_left_unsealed_before_a_batch_are_chained_after_it_once_it_commits(cast, django_capture_on_commit_callbacks):
    with transaction.atomic():  # sealing after this commit does not run (as if the writer died)
        record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        history.append(sign_ins(cast, 50), chain_now=True)
    # The batch chained its own 50, then, once committed, sealed what others had left unsealed.
    earlier = AccessEvent.objects.order_by("id").first()
    assert earlier.sequence == 51
    assert history.seal(cast.practice) == 0
    assert first_broken_event(cast.practice) is None


def test_an_edit_to_an_event_chained_at_once_is_named(cast):
    with transaction.atomic():
        history.append(sign_ins(cast, 50), chain_now=True)
    edited = AccessEvent.objects.get(sequence=20)
    AccessEvent.objects.filter(pk=edited.pk).update(reason="nothing to see")
    assert first_broken_event(cast.practice) == (edited.pk, "this event was altered")


# (The test's transaction never commits, so nothing below is sealed after a commit: what is sealed was
# chained at once.)

def test_a_bulk_job_chains_its_events_as_it_sends(cast):
    patients = make_patients(cast.practice, 3)
    job = jobs.start_invitation_job(cast.practice, Patient.objects.filter(pk__in=[p.pk for p in patients]),
                                       by=cast.alice, selection="3", enqueue=False, chunk=2)
    jobs.run_invitation_job(job.pk)
    assert AccessEvent.objects.filter(action="invitation.sent", sequence__isnull=False).count() == 3
    assert first_broken_event(cast.practice) is None


def test_the_expiry_sweep_chains_its_events_as_it_closes(cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel="chart")
    Invitation.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert expiry.expire_invitations() == 1
    assert AccessEvent.objects.get(action="invitation.expired").sequence is not None
    assert unsealed_count(cast.practice) == 1  # the send, by the chart button: sealed after its commit


def test_the_chart_button_appends_unsealed(cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel="chart")
    assert unsealed_count(cast.practice) == 1


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_batches_and_single_events_at_once_keep_one_chain(cast):
    def batch():
        with transaction.atomic():
            history.append(sign_ins(cast, 60), chain_now=True)

    def singles():
        for _ in range(10):
            with transaction.atomic():
                record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))

    assert at_once(batch, batch, singles, singles) == [None] * 4
    assert unsealed_count(cast.practice) == 0
    assert sorted(AccessEvent.objects.values_list("sequence", flat=True)) == list(range(1, 141))
    assert first_broken_event(cast.practice) is None


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_sign_in_does_not_wait_for_a_batch_holding_the_chain_which_then_seals_it(cast):
    held, release = threading.Event(), threading.Event()

    def batch():  # a bulk chunk: its events chained at once, the practice's chain held until it commits
        with transaction.atomic():
            history.append(sign_ins(cast, 10), chain_now=True)
            held.set()
            release.wait(10)
        connection.close()

    def sign_in():  # a person's request: its event written, then sealed after its commit
        with transaction.atomic():
            record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))
        connection.close()

    chunk = threading.Thread(target=batch)
    chunk.start()
    held.wait(10)
    request = threading.Thread(target=sign_in)
    request.start()
    request.join(5)
    assert not request.is_alive()  # done while the batch still holds the chain
    assert unsealed_count(cast.practice) == 1
    release.set()
    chunk.join(10)
    assert unsealed_count(cast.practice) == 0  # the batch sealed it after its commit
    assert AccessEvent.objects.get(sequence=11).actor_kind == AccessEvent.ActorKind.STAFF
    assert first_broken_event(cast.practice) is None
