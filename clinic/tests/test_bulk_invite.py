"""Bulk invitations on the staff pages: select on the patient list, preview by reason, confirm once,
watch the job, read its report and download the skipped patients."""

import csv
import io

import pytest
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse

from access.actions import acceptance, jobs, sending
from access.models import AccessEvent, Channel, Invitation, InvitationJob
from access.selectors import InvitationPreview
from access.tests.helpers import connect, right_answers, send, snapshot
from clinic.models import Patient, StaffMember
from conftest import at_once, postgres_only, run_worker
from mail.models import Message

PREVIEW, CONFIRM, JOBS = reverse("clinic:bulk-preview"), reverse("clinic:bulk-confirm"), reverse("clinic:bulk-jobs")
MISSING_BOTH = ("Not eligible (Add an email address; Add a social security number, or a date of birth and a "
                "phone number)")
MISSING_IDENTITY = "Not eligible (Add a social security number, or a date of birth and a phone number)"


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user("ada-admin", password="staff-password-123", last_name="Admin")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


@pytest.fixture
def mix(cast):
    """One patient for each outcome: Pat (eligible, not invited) and Ned (nothing on file) from the
    cast, then Eve (email, no identity), Pam (pending), Con (connected) and Tom (5 invitations today)."""

    def patient(chart, first, **details):
        return Patient.objects.create(practice=cast.practice, chart_number=chart, first_name=first, last_name="Mix",
                                      **details)

    eve = patient("M-1", "Eve", email="eve@example.test")
    pam = patient("M-2", "Pam", email="pam@example.test", ssn="123450002")
    con = patient("M-3", "Con", email="con@example.test", ssn="123450003")
    tom = patient("M-4", "Tom", email="tom@example.test", ssn="123450004")
    send(cast, pam)
    connect(cast, con)
    send(cast, tom)
    for _ in range(4):
        sending.resend_invitation(tom, by=cast.alice, channel=Channel.CHART)
    sending.revoke_invitation(tom, by=cast.alice)
    return [cast.pat, cast.ned, eve, pam, con, tom]


def ids_query(patients) -> str:
    return "?" + "&".join(f"patient={p.pk}" for p in patients)


def preview_token(client, query: str) -> str:
    response = client.get(PREVIEW + query)
    assert response.status_code == 200
    return response.context["token"]


def confirm(client, token: str):
    return client.post(CONFIRM, {"preview": token})


def test_only_practice_admins_can_select_and_invite(client, cast, admin):
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:patients")).content.decode()
    assert 'name="patient"' not in html and "Bulk invitations" not in html
    assert client.get(PREVIEW + ids_query([cast.pat])).status_code == 404
    assert client.get(JOBS).status_code == 404
    assert client.post(CONFIRM, {"preview": "anything"}).status_code == 404
    client.force_login(admin.user)
    html = client.get(reverse("clinic:patients")).content.decode()
    assert f'<label for="select-{cast.pat.pk}" class="visually-hidden">Select Pat Jones</label>' in html
    assert f'href="{JOBS}"' in html


def test_the_patient_list_offers_all_patients_matching_its_filter(client, cast, admin, mix):
    client.force_login(admin.user)
    html = client.get(reverse("clinic:patients"), {"status": "not_invited"}).content.decode()
    assert f'href="{PREVIEW}?status=not_invited&amp;matching=1"' in html
    assert "Invite all 1 patient matching this filter" in html
    assert "Invite all 6 patients<" in client.get(reverse("clinic:patients")).content.decode()


def test_the_preview_of_selected_patients_counts_each_reason_and_sends_nothing(client, cast, admin, mix):
    client.force_login(admin.user)
    before = snapshot()
    response = client.get(PREVIEW + ids_query([*mix, cast.bea]))  # Bea is another practice's: ignored
    assert response.context["preview"] == InvitationPreview(to_invite=1, skipped={
        "Already connected": 1, "Already pending": 1, "Invited too often today": 1,
        MISSING_BOTH: 1, MISSING_IDENTITY: 1,
    })
    html = response.content.decode()
    assert "Selected patients (7): 6 patients." in html
    assert '<dd data-testid="to-invite">1</dd>' in html and '<dd data-testid="to-skip">5</dd>' in html
    assert "<th scope=\"row\">Invited too often today</th><td>1</td>" in html
    assert "Send 1 invitation<" in html
    assert snapshot() == before and not InvitationJob.objects.exists()


def test_the_preview_of_all_matching_a_filter_uses_the_patient_lists_query(client, cast, admin, mix):
    client.force_login(admin.user)
    response = client.get(PREVIEW, {"matching": "1", "status": "not_eligible"})
    assert response.context["preview"] == InvitationPreview(to_invite=0, skipped={MISSING_BOTH: 1,
                                                                                   MISSING_IDENTITY: 1})
    assert response.context["token"] == ""  # nobody to invite: no Confirm button
    assert "Nobody in this selection can be invited now" in response.content.decode()
    response = client.get(PREVIEW, {"matching": "1", "q": "mix"})
    assert response.context["preview"].total == 4 and response.context["selection"].label == "Search: “mix”"


def test_an_empty_or_unreadable_selection_goes_back_to_the_list_and_is_never_widened(client, cast, admin):
    client.force_login(admin.user)
    response = client.get(PREVIEW, {"q": "jones", "status": "not_invited"})
    assert response.status_code == 302 and response.url == "/patients/?q=jones&status=not_invited"
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Select at least one patient to invite."]
    response = client.get(PREVIEW, {"matching": "1", "status": "no-such-status"})
    assert response.status_code == 302
    assert "That filter cannot be used" in str(list(get_messages(response.wsgi_request))[-1])
    response = client.get(PREVIEW + "?patient=1&patient=x")
    assert response.status_code == 302 and response.url == "/patients/"


def test_confirm_starts_one_job_of_the_selection_which_the_worker_sends(client, cast, admin, smtp_server):
    client.force_login(admin.user)
    token = preview_token(client, "?matching=1&status=not_invited")
    assert not Invitation.objects.filter(patient=cast.pat).exists()  # nothing is sent before Confirm
    response = confirm(client, token)
    job = InvitationJob.objects.get()
    assert response.status_code == 302 and response.url == reverse("clinic:bulk-job", args=[job.pk])
    assert (job.practice, job.started_by, job.selection, job.total) == (cast.practice, admin, "Status: Not invited", 1)
    run_worker()
    job.refresh_from_db()
    assert (job.status, job.invited, job.skipped) == (InvitationJob.Status.DONE, 1, 0)
    assert Invitation.objects.get(patient=cast.pat).channel == Channel.BULK
    assert [m["To"] for m in smtp_server.messages()] == ["pat@example.test"]


def test_the_selection_is_taken_when_confirmed(client, cast, admin):
    client.force_login(admin.user)
    token = preview_token(client, "?matching=1&status=not_invited")
    late = Patient.objects.create(practice=cast.practice, chart_number="L-1", first_name="Lee", last_name="Late",
                                  email="lee@example.test", ssn="123450009")
    confirm(client, token)
    [snapshot] = InvitationJob.objects.get().chunks.values_list("patient_ids", flat=True)
    assert set(snapshot) == {cast.pat.pk, late.pk}


def test_confirming_the_same_preview_twice_starts_one_job(client, cast, admin):
    client.force_login(admin.user)
    token = preview_token(client, ids_query([cast.pat]))
    first = confirm(client, token)
    second = confirm(client, token)
    assert InvitationJob.objects.count() == 1
    assert second.status_code == 302 and second.url == JOBS and first.url != JOBS
    assert "already confirmed" in str(list(get_messages(second.wsgi_request))[0])
    assert confirm(client, "made-up").url == JOBS and InvitationJob.objects.count() == 1
    # Another tab saving the session with the token still in it (its copy predates the first confirm)
    # does not make a second job of it.
    session = client.session
    session["bulk_invitation_previews"] = {token: {"ids": [cast.pat.pk], "q": "", "status": ""}}
    session.save()
    again = confirm(client, token)
    assert InvitationJob.objects.count() == 1 and again.url == first.url
    assert "already confirmed" in str(list(get_messages(again.wsgi_request))[-1])
    # A new preview of the same patients is a new decision, and may be confirmed.
    confirm(client, preview_token(client, ids_query([cast.pat])))
    assert InvitationJob.objects.count() == 2


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_two_confirms_of_one_preview_sent_at_once_start_one_job(cast, admin):
    browser = Client()
    browser.force_login(admin.user)
    token = preview_token(browser, ids_query([cast.pat]))
    tabs = [Client(), Client()]  # one browser's session cookie, two requests in flight
    for tab in tabs:
        tab.cookies = browser.cookies
    outcomes = at_once(*(lambda tab=tab: confirm(tab, token) for tab in tabs))
    assert InvitationJob.objects.count() == 1
    # Each lands on the one job's page (the later one told nothing new was started), or, if the first
    # had saved the session before the second read it, on the jobs list.
    assert {r.url for r in outcomes} <= {reverse("clinic:bulk-job", args=[InvitationJob.objects.get().pk]), JOBS}
    run_worker()
    assert Invitation.objects.filter(patient=cast.pat).count() == 1


def test_the_job_page_polls_while_running_and_shows_the_report_once_done(client, cast, admin, mix):
    client.force_login(admin.user)
    confirm(client, preview_token(client, ids_query(mix)))
    job = InvitationJob.objects.get()
    live = reverse("clinic:bulk-job-live", args=[job.pk])
    html = client.get(reverse("clinic:bulk-job", args=[job.pk])).content.decode()
    assert f'hx-get="{live}?report=0" hx-trigger="every 1s"' in html
    assert '<progress id="job-bar" max="6" value="0">' in html and "<h2>Report</h2>" not in html

    jobs.run_invitation_job(job.pk)
    partial = client.get(live, {"report": "0"}, headers={"HX-Request": "true"}).content.decode()
    assert '<progress id="job-bar" max="6" value="6">' in partial
    assert '<dd data-testid="invited">1</dd>' in partial and '<dd data-testid="skipped">5</dd>' in partial
    # Its one email is not delivered yet: still polled, now without asking for the report again.
    assert f'hx-get="{live}" hx-trigger="every 1s"' in partial
    assert '<div id="job-report" hx-swap-oob="innerHTML">' in partial and MISSING_BOTH in partial
    assert "Finished: 1 invited, 5 skipped." in partial
    assert "<!DOCTYPE" not in partial and "job-report" not in client.get(live, headers={"HX-Request": "true"}).content.decode()


def test_polling_stops_once_the_job_is_done_and_its_emails_are_out(client, cast, admin, smtp_server):
    client.force_login(admin.user)
    confirm(client, preview_token(client, ids_query([cast.pat, cast.ned])))
    run_worker()
    job = InvitationJob.objects.get()
    html = client.get(reverse("clinic:bulk-job", args=[job.pk])).content.decode()
    assert "hx-get" not in html and '<dd data-testid="emails-delivered">1</dd>' in html
    assert "Finished: 1 invited, 1 skipped." in html
    assert f"Stone, Ned</a></th>\n      <td>A-101</td><td>{MISSING_BOTH}</td>" in html


def test_the_skipped_patients_download_as_csv(client, cast, admin, mix):
    client.force_login(admin.user)
    confirm(client, preview_token(client, ids_query(mix)))
    job = jobs.run_invitation_job(InvitationJob.objects.get().pk)
    response = client.get(reverse("clinic:bulk-job-skipped", args=[job.pk]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="skipped-patients-job-{job.pk}.csv"'
    assert "no-store" in response["Cache-Control"]
    assert list(csv.reader(io.StringIO(response.content.decode()))) == [
        ["chart_number", "first_name", "last_name", "reason", "reason_code"],
        ["M-3", "Con", "Mix", "Already connected", "already_connected"],
        ["M-1", "Eve", "Mix", MISSING_IDENTITY, "not_eligible"],
        ["M-2", "Pam", "Mix", "Already pending", "already_pending"],
        ["M-4", "Tom", "Mix", "Invited too often today", "too_many_invitations"],
        ["A-101", "Ned", "Stone", MISSING_BOTH, "not_eligible"],
    ]


def test_the_job_list_shows_who_started_each_its_counts_and_how_many_accepted(client, cast, admin):
    client.force_login(admin.user)
    confirm(client, preview_token(client, ids_query([cast.pat, cast.ned])))
    job = jobs.run_invitation_job(InvitationJob.objects.get().pk)
    token = Message.objects.get(kind="invitation").secret_link.rsplit("/", 2)[-2]
    acceptance.accept_invitation(token, proof=acceptance.verify_identity(token, right_answers(cast.pat)).proof,
                              password="a-long-enough-password")
    html = client.get(JOBS).content.decode()
    assert f'href="{reverse("clinic:bulk-job", args=[job.pk])}"' in html and "Selected patients (2)" in html
    row = html[html.index("<tbody>"):html.index("</tbody>")]
    assert "<td>Admin</td>" in row  # who started it
    assert "<td>2</td>\n      <td>1</td>\n      <td>1</td>\n      <td>1</td>\n      <td>Done</td>" in row


def test_another_practices_job_is_a_404_and_recorded(client, cast, admin):
    client.force_login(admin.user)
    confirm(client, preview_token(client, ids_query([cast.pat])))
    job = InvitationJob.objects.get()
    other_admin = StaffMember.objects.create(
        user=admin.user.__class__.objects.create_user("bo-admin", password="x"), practice=cast.other_practice,
        role=StaffMember.Role.ADMIN)
    client.force_login(other_admin.user)
    for name in ("clinic:bulk-job", "clinic:bulk-job-live", "clinic:bulk-job-skipped"):
        assert client.get(reverse(name, args=[job.pk])).status_code == 404
    events = AccessEvent.objects.filter(practice=cast.other_practice, action=AccessEvent.Action.FOREIGN_ID)
    assert list(events.values_list("reason", flat=True)) == [f"invitation job {job.pk}"] * 3
    assert job.pk not in [j.pk for j in client.get(JOBS).context["page"]]
