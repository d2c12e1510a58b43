import mailbox
from email.message import EmailMessage

import pytest
from django.urls import reverse


@pytest.fixture
def caught(settings, tmp_path):
    settings.PORTICO_MAILBOX_ENABLED = True
    settings.PORTICO_MAILBOX_DIR = tmp_path / "mailbox"
    box = mailbox.Maildir(str(settings.PORTICO_MAILBOX_DIR), create=True)
    msg = EmailMessage()
    msg["To"], msg["Subject"] = "pat@example.test", "Maple Street Clinic invites you to its patient portal"
    msg["X-RcptTo"] = "pat@example.test"
    msg.set_content("Open this link: https://portal.example.test/portal/i/abc/")
    msg.add_alternative("<p>html</p>", subtype="html")
    return box.add(msg)


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
