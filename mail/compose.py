"""Render an email from templates by name: mail/<name>-subject.txt, -body.txt and -body.html.

The .txt templates wrap themselves in `{% autoescape off %}` (as Django's own password-reset email
does): a subject and a text part are not HTML, so `O'Brien & Sons` must reach them as typed. Only
the HTML part escapes."""

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.template.loader import render_to_string


def make_message(name: str, to: str, context: dict, *, message_id: str) -> EmailMultiAlternatives:
    subject = render_to_string(f"mail/{name}-subject.txt", context)
    subject = " ".join(subject.split())  # a header must be one line
    text = render_to_string(f"mail/{name}-body.txt", context)
    html = render_to_string(f"mail/{name}-body.html", context)
    message = EmailMultiAlternatives(
        subject, text, settings.DEFAULT_FROM_EMAIL, [to], headers={"Message-ID": message_id}
    )
    message.attach_alternative(html, "text/html")
    return message
