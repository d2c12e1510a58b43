import mailbox
from email.message import EmailMessage

import pytest
from django.urls import reverse


def deliver(settings, to: str, subject: str, date: str = "") -> str:
    """Put a message in the Maildir as `manage.py smtpd` does (envelope recipients in X-RcptTo)."""
    box = mailbox.Maildir(str(settings.PORTICO_MAILBOX_DIR), create=True)
    msg = EmailMessage()
    msg["To"], msg["Subject"], msg["X-RcptTo"] = to, subject, to
    if date:
        msg["Date"] = date
    msg.set_content("Open this link: https://portal.example.test/portal/i/abc/")
    msg.add_alternative("<p>html</p>", subtype="html")
    return box.add(msg)


@pytest.fixture
def caught(settings, tmp_path):
    settings.PORTICO_MAILBOX_ENABLED = True
    settings.PORTICO_MAILBOX_DIR = tmp_path / "mailbox"
    return deliver(settings, "pat@example.test", "Maple Street Clinic invites you to its patient portal")


def test_it_lists_and_shows_caught_mail_to_staff(client, cast, caught):
    client.force_login(cast.alice.user)
    page = client.get(reverse("mail:mailbox")).content.decode()
    assert "Maple Street Clinic invites you to its patient portal" in page and "pat@example.test" in page
    page = client.get(reverse("mail:message", args=[caught])).content.decode()
    assert '<a href="https://portal.example.test/portal/i/abc/"' in page  # the link can be clicked


def test_it_requires_login(client, caught):
    response = client.get(reverse("mail:mailbox"))
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))


def test_it_is_for_staff_only(client, cast, caught, django_user_model):
    client.force_login(django_user_model.objects.create_user(username="patient@example.test"))
    assert client.get(reverse("mail:mailbox")).status_code == 404


def test_it_does_not_exist_unless_enabled(client, cast, caught, settings):
    settings.PORTICO_MAILBOX_ENABLED = False
    client.force_login(cast.alice.user)
    assert client.get(reverse("mail:mailbox")).status_code == 404
    assert client.get(reverse("mail:message", args=[caught])).status_code == 404


def test_an_unknown_message_is_404(client, cast, caught):
    client.force_login(cast.alice.user)
    assert client.get(reverse("mail:message", args=["nope"])).status_code == 404


def test_it_shows_staff_only_mail_to_their_own_practice(client, cast, caught, settings):
    cast.dora.user.email = "Dora@Maple.example.test"
    cast.dora.user.save()
    to_colleague = deliver(settings, "dora@maple.example.test", "Welcome, Dr. Dorsey")
    to_other_patient = deliver(settings, "bea@example.test", "Harbor Health invites you to its patient portal")
    to_stranger = deliver(settings, "someone@example.test", "Not for anyone here")
    to_both = deliver(settings, "pat@example.test, bea@example.test", "To both practices")

    client.force_login(cast.alice.user)
    page = client.get(reverse("mail:mailbox")).content.decode()
    assert "Maple Street Clinic invites you" in page and "Welcome, Dr. Dorsey" in page
    for hidden in ("Harbor Health", "bea@example.test", "Not for anyone here", "someone@example.test", "To both"):
        assert hidden not in page
    for key in (to_other_patient, to_stranger, to_both):
        assert client.get(reverse("mail:message", args=[key])).status_code == 404
    assert client.get(reverse("mail:message", args=[to_colleague])).status_code == 200

    client.force_login(cast.bob.user)
    page = client.get(reverse("mail:mailbox")).content.decode()
    assert "Harbor Health invites you" in page
    for hidden in ("Maple Street", "pat@example.test", "Welcome, Dr. Dorsey", "Not for anyone here", "To both"):
        assert hidden not in page
    assert client.get(reverse("mail:message", args=[caught])).status_code == 404


def test_it_shows_times_in_the_practice_time_zone(client, cast, caught, settings):
    # 03:00 UTC on 26 Nov is 10:00 PM on 25 Nov in New York, the practice's time zone.
    key = deliver(settings, "pat@example.test", "Late", date="Thu, 26 Nov 2026 03:00:00 +0000")
    client.force_login(cast.alice.user)
    page = client.get(reverse("mail:mailbox")).content.decode()
    assert "<td>Wed 25 Nov 2026, 10:00 PM EST</td>" in page
    assert "<td>—</td>" in page  # the fixture's message has no Date header
    assert "+0000" not in page and "Thu, 26 Nov" not in page
    page = client.get(reverse("mail:message", args=[key])).content.decode()
    assert "<dd>Wed 25 Nov 2026, 10:00 PM EST</dd>" in page
