"""What the patient reads: names as typed in the subject and text part, escaped only in the HTML part."""

import time_machine

from access.tests.helpers import connect, send
from conftest import NOW, SOON, run_worker
from mail.models import Message

NAME = "O'Brien & Sons <Care>"
ESCAPED = "O&#x27;Brien &amp; Sons &lt;Care&gt;"


def _parts(message) -> tuple[str, str, str]:
    return (message["Subject"], message.get_body(("plain",)).get_content(),
            message.get_body(("html",)).get_content())


def test_the_invitation_shows_the_practice_name_as_typed(cast, smtp_server):
    cast.practice.name = NAME
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(SOON):  # the worker reaches it while the invitation is pending
        run_worker()
    subject, text, html = _parts(smtp_server.messages()[0])
    assert subject == "O'Brien & Sons <Care> invites you to its patient portal"
    assert "O'Brien & Sons <Care> has invited you to connect to its patient portal." in text
    assert "&amp;" not in text + subject and "&#x27;" not in text + subject
    assert f"<p>{ESCAPED} has invited you to connect to its patient portal.</p>" in html
    assert NAME not in html


def test_the_connected_confirmation_shows_the_practice_name_as_typed(cast, smtp_server):
    cast.practice.name = NAME
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        connect(cast)
    run_worker()
    (confirmation,) = [m for m in smtp_server.messages() if m["Subject"].startswith("You are now connected")]
    subject, text, html = _parts(confirmation)
    assert subject == "You are now connected to O'Brien & Sons <Care>"
    assert "Your patient portal account is now connected to O'Brien & Sons <Care>." in text
    assert f"<p>Your patient portal account is now connected to {ESCAPED}.</p>" in html
    assert NAME not in html


def test_a_name_beyond_ascii_reaches_the_subject_and_body_intact(cast, smtp_server, settings):
    settings.DEFAULT_FROM_EMAIL = "Clinique Éole <no-reply@éole.example>"
    cast.practice.name = "Clinique Éole — Zoë’s"
    cast.practice.save()
    with time_machine.travel(NOW, tick=False):
        send(cast)
    with time_machine.travel(SOON):  # the worker reaches it while the invitation is pending
        run_worker()
    (message,) = smtp_server.messages()
    subject, text, html = _parts(message)
    assert subject == "Clinique Éole — Zoë’s invites you to its patient portal"
    assert "Clinique Éole — Zoë’s has invited you" in text and "Clinique Éole — Zoë’s has invited you" in html
    assert message["From"].addresses[0].display_name == "Clinique Éole"
    assert message["From"].addresses[0].domain == "xn--ole-9la.example"
    assert message["Message-ID"] == f"<portico-message-{Message.objects.get().pk}@portal.example.test>"
