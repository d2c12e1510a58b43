"""Bulk invitation jobs: a snapshot of the selection as chunks of patient ids, each sent in a
transaction that records its skips and marks it done, so nothing is ever sent twice, even when a job
is re-run or resumed."""

import datetime
import io
from unittest import mock

import pytest
import time_machine
from django.db import DatabaseError
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from access import errors, selectors
from access.actions import acceptance, jobs, sending
from access.history import first_broken_event
from access.models import AccessEvent, Channel, Invitation, InvitationJob, InvitationJobChunk, InvitationJobPatient
from access.tests.helpers import connect, right_answers, send, snapshot
from access.tests.test_send_invitations import make_patients
from clinic.models import Patient
from conftest import at_once, postgres_only, run_worker
from mail.models import Message


def start(cast, patients, **kwargs) -> InvitationJob:
    ids = [p.pk for p in patients]
    return jobs.start_invitation_job(cast.practice, Patient.objects.filter(pk__in=ids), by=cast.alice,
                                        selection=f"{len(ids)} selected patients", **kwargs)


def invitations_per_patient(patients) -> list[int]:
    return [Invitation.objects.filter(patient=p).count() for p in patients]


def test_a_job_invites_the_eligible_and_records_why_others_were_skipped(cast):
    patients = make_patients(cast.practice, 5)
    send(cast, patients[0])
    job = start(cast, [*patients, cast.ned], enqueue=False, chunk=2)
    assert (job.total, job.status) == (6, InvitationJob.Status.RUNNING)
    assert list(job.chunks.order_by("id").values_list("patient_ids", flat=True)) == [
        sorted(p.pk for p in [*patients, cast.ned])[i:i + 2] for i in (0, 2, 4)]
    job = jobs.run_invitation_job(job.pk)
    assert (job.invited, job.skipped, job.status) == (4, 2, InvitationJob.Status.DONE)
    assert job.finished_at is not None
    assert not job.chunks.filter(done=False).exists()
    assert selectors.job_skip_counts(job) == {
        "Already pending": 1,
        "Not eligible (Add an email address; Add a social security number, or a date of birth and a phone number)": 1}
    assert set(job.skips.values_list("patient_id", "reason_code")) == {
        (patients[0].pk, "already_pending"), (cast.ned.pk, "not_eligible")}
    invited = {i.patient_id: i for i in job.invitations.all()}
    assert set(invited) == {p.pk for p in patients[1:]}
    assert invited[patients[1].pk].channel == Channel.BULK
    assert invited[patients[1].pk].sent_by == cast.alice
    events = AccessEvent.objects.filter(invitation=invited[patients[1].pk])
    assert [(e.action, e.channel, e.reason) for e in events] == [("invitation.sent", "bulk", f"Bulk invitation {job.pk}")]
    assert Message.objects.filter(kind="invitation").count() == 5  # 4 + the one sent from the chart


def test_it_ignores_patients_of_another_practice(cast):
    job = start(cast, [cast.pat, cast.bea], enqueue=False)
    assert list(job.chunks.values_list("patient_ids", flat=True)) == [[cast.pat.pk]]
    assert job.total == 1


def test_re_running_a_job_or_a_second_job_over_the_same_patients_invites_nobody_twice(cast):
    patients = make_patients(cast.practice, 4)
    job = start(cast, patients, enqueue=False)
    jobs.run_invitation_job(job.pk)
    before = snapshot()
    again = jobs.run_invitation_job(job.pk)
    assert (again.invited, again.skipped) == (4, 0)
    assert snapshot() == before
    second = jobs.run_invitation_job(start(cast, patients, enqueue=False).pk)
    assert (second.invited, second.skipped) == (0, 4)
    assert selectors.job_skip_counts(second) == {"Already pending": 4}
    assert invitations_per_patient(patients) == [1, 1, 1, 1]


def test_one_key_starts_one_job_and_a_second_start_changes_nothing(cast):
    patients = make_patients(cast.practice, 2)
    job = start(cast, patients, enqueue=False, key="preview-1")
    before = (list(InvitationJob.objects.values()), list(InvitationJobChunk.objects.values()))
    with pytest.raises(errors.JobAlreadyStarted) as already:
        start(cast, patients, enqueue=False, key="preview-1")
    assert already.value.job == job
    assert (list(InvitationJob.objects.values()), list(InvitationJobChunk.objects.values())) == before
    assert start(cast, patients, enqueue=False, key="preview-2") != job  # another key: another job
    assert start(cast, patients, enqueue=False).total == start(cast, patients, enqueue=False).total == 2  # no key


def test_a_chunk_that_dies_before_commit_leaves_its_patients_to_do_and_sends_nothing(cast):
    patients = make_patients(cast.practice, 4)
    job = start(cast, [*patients, cast.ned], enqueue=False, chunk=3)
    with mock.patch("access.actions.jobs._finish", side_effect=DatabaseError("worker killed")):
        with pytest.raises(DatabaseError):
            jobs.run_invitation_job(job.pk)
    assert job.chunks.filter(done=False).count() == 2
    assert invitations_per_patient(patients) == [0, 0, 0, 0]
    assert not Message.objects.exists() and not job.skips.exists()
    job.refresh_from_db()
    assert (job.invited, job.skipped) == (0, 0)


def test_a_job_killed_between_chunks_resumes_at_the_first_chunk_not_committed(cast):
    patients = make_patients(cast.practice, 5)
    job = start(cast, [*patients, cast.ned], enqueue=False, chunk=2)
    assert jobs._run_job_chunk(job.pk) == 2  # the first chunk committed, then the worker was killed
    first = set(Invitation.objects.values_list("patient_id", flat=True))
    done = jobs.run_invitation_job(job.pk)
    assert (done.invited, done.skipped) == (5, 1)
    assert invitations_per_patient(patients) == [1] * 5
    assert first and Invitation.objects.filter(patient_id__in=first).count() == len(first)  # not sent again
    assert list(done.skips.values_list("patient_id", flat=True)) == [cast.ned.pk]
    assert Message.objects.filter(kind="invitation").count() == 5


def test_a_job_whose_worker_was_killed_is_resumed_and_finishes_without_doubling(cast, smtp_server):
    patients = make_patients(cast.practice, 5)
    job = start(cast, patients, chunk=2)
    lost = DBTaskResult.objects.get()
    lost.claim("node-a:4242")  # a worker took the task ... and was killed (its node died) after 2 patients:
    jobs._run_job_chunk(job.pk)
    with time_machine.travel(timezone.now() + datetime.timedelta(minutes=2, seconds=1)):
        assert jobs.resume_stalled_jobs() == 1
        assert jobs.resume_stalled_jobs() == 0  # its heartbeat is fresh again: not queued twice
    lost.refresh_from_db()  # nothing stays "running" for the lost worker
    assert (lost.status, lost.exception_class_path) == ("FAILED", "access.actions.jobs.WorkerLost")
    assert DBTaskResult.objects.exclude(pk=lost.pk).get().status == "READY"
    with time_machine.travel(job.created_at + datetime.timedelta(minutes=3)):  # its invitations still pending
        run_worker()
    job.refresh_from_db()
    assert (job.status, job.invited, job.skipped) == (InvitationJob.Status.DONE, 5, 0)
    assert invitations_per_patient(patients) == [1] * 5
    assert sorted(m["To"] for m in smtp_server.messages()) == sorted(p.email for p in patients)
    progress = selectors.job_progress(job)
    assert (progress.total, progress.invited, progress.skipped, progress.emails_delivered, progress.done) == (
        5, 5, 0, 5, True)


def test_a_running_job_with_a_recent_heartbeat_is_left_alone(cast):
    start(cast, make_patients(cast.practice, 1))
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=1, seconds=59)):
        assert jobs.resume_stalled_jobs() == 0
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(minutes=2, seconds=1)):
        assert jobs.resume_stalled_jobs() == 1


def test_how_long_a_job_may_stand_still_comes_from_the_environment(cast, settings):
    settings.PORTICO_JOB_STALLED_SECONDS = 30
    start(cast, make_patients(cast.practice, 1))
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=29)):
        assert jobs.resume_stalled_jobs() == 0
    with time_machine.travel(datetime.datetime.now(tz=datetime.UTC) + datetime.timedelta(seconds=31)):
        assert jobs.resume_stalled_jobs() == 1


def test_starting_a_job_queues_its_task_in_the_same_transaction(cast):
    job = start(cast, make_patients(cast.practice, 2))
    task = DBTaskResult.objects.get()
    assert (task.queue_name, task.args_kwargs["args"]) == ("default", [job.pk])
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.invited) == (InvitationJob.Status.DONE, 2)


def test_progress_counts_emails_delivered_and_failed_from_the_outbox(cast, smtp_server):
    patients = make_patients(cast.practice, 3)
    job = jobs.run_invitation_job(start(cast, [*patients, cast.ned], enqueue=False).pk)
    assert selectors.job_progress(job) == selectors.JobProgress(
        total=4, invited=3, skipped=1, emails_delivered=0, emails_failed=0, done=True)
    run_worker()
    failed = Message.objects.filter(kind="invitation").order_by("id").first()
    Message.objects.filter(pk=failed.pk).update(status=Message.Status.FAILED)  # as if given up for good
    progress = selectors.job_progress(job)
    assert (progress.emails_delivered, progress.emails_failed, progress.processed) == (2, 1, 4)


def test_the_skipped_report_as_csv(cast):
    odd = Patient.objects.create(practice=cast.practice, chart_number="A-102", first_name="=HYPERLINK(1)",
                                 last_name="O'Brien, Jr", email="odd@example.test")
    send(cast)
    job = jobs.run_invitation_job(start(cast, [cast.pat, cast.ned, odd], enqueue=False).pk)
    out = io.StringIO()
    selectors.write_skipped_csv(job, out)
    missing_identity = "Add a social security number, or a date of birth and a phone number"
    assert out.getvalue().splitlines() == [
        "chart_number,first_name,last_name,reason,reason_code",
        "A-100,Pat,Jones,Already pending,already_pending",
        f"A-102,'=HYPERLINK(1),\"O'Brien, Jr\",\"Not eligible ({missing_identity})\",not_eligible",
        f"A-101,Ned,Stone,\"Not eligible (Add an email address; {missing_identity})\",not_eligible",
    ]


def test_the_preview_counts_by_reason_and_changes_nothing(cast):
    patients = make_patients(cast.practice, 3)
    connect(cast, patients[0])
    before = snapshot()
    preview = selectors.preview_invitations(Patient.objects.filter(practice=cast.practice))
    assert preview == selectors.InvitationPreview(to_invite=3, skipped={
        "Already connected": 1,
        "Not eligible (Add an email address; Add a social security number, or a date of birth and a phone number)": 1,
    })
    assert preview.total == 5
    assert snapshot() == before


def test_jobs_are_listed_with_who_started_them_and_how_many_have_since_accepted(cast):
    patients = make_patients(cast.practice, 3)
    job = jobs.run_invitation_job(start(cast, patients, enqueue=False).pk)
    token_of = {i.patient_id: i for i in job.invitations.all()}
    # Accept one: its token is only in the outbox, so take it the way the patient would (the email's link).
    message = Message.objects.get(dedupe_key=f"invitation:{token_of[patients[1].pk].pk}")
    token = message.secret_link.rsplit("/", 2)[-2]
    proof = acceptance.verify_identity(token, right_answers(patients[1])).proof
    acceptance.accept_invitation(token, proof=proof, password="a-long-enough-password")
    [listed] = selectors.invitation_jobs(cast.practice)
    assert (listed.pk, listed.started_by, listed.invited, listed.accepted) == (job.pk, cast.alice, 3, 1)
    assert listed.selection == "3 selected patients"


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_overlapping_jobs_and_a_staff_click_at_once_invite_each_patient_once(cast):
    patients = make_patients(cast.practice, 60)
    first = start(cast, patients[:40], enqueue=False, chunk=7)
    second = start(cast, patients[20:], enqueue=False, chunk=7)
    clicked = patients[30]
    outcomes = at_once(
        lambda: jobs.run_invitation_job(first.pk),
        lambda: jobs.run_invitation_job(second.pk),
        lambda: sending.send_invitation(clicked, by=cast.dora, channel=Channel.CHART),
    )
    assert not [o for o in outcomes[:2] if isinstance(o, Exception)]
    assert invitations_per_patient(patients) == [1] * 60
    for patient in patients:
        [invitation] = Invitation.objects.filter(patient=patient)
        assert Message.objects.filter(dedupe_key=f"invitation:{invitation.pk}").count() == 1
        assert AccessEvent.objects.filter(patient=patient, action="invitation.sent").count() == 1
    first.refresh_from_db()
    second.refresh_from_db()
    clicked_sent = not isinstance(outcomes[2], Exception)
    assert first.invited + second.invited + clicked_sent == 60
    assert first.skipped + second.skipped == 20 + clicked_sent
    assert first_broken_event(cast.practice) is None


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_runners_of_one_job_share_its_chunks(cast):
    """A job queued again while its first worker is merely slow: both run, nobody is invited twice."""
    patients = make_patients(cast.practice, 50)
    job = start(cast, patients, enqueue=False, chunk=5)
    at_once(*[lambda: jobs.run_invitation_job(job.pk)] * 2)
    job.refresh_from_db()
    assert (job.invited, job.skipped, job.status) == (50, 0, InvitationJob.Status.DONE)
    assert invitations_per_patient(patients) == [1] * 50
    assert not job.chunks.filter(done=False).exists() and not InvitationJobPatient.objects.filter(job=job).exists()
    assert job.invitations.count() == 50
