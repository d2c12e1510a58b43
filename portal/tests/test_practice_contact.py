"""The practice's phone and its sentence for patients (Settings) on the pages that tell a patient to ask
the practice, and in the invitation email."""

import html

from django.template.loader import render_to_string
from django.urls import reverse

from access.actions import sending
from access.tests.helpers import send
from mail.models import Message
from portal.tests.conftest import open_link

NOTE = "The front desk answers weekdays, 8 AM to 5 PM."


def test_a_dead_link_page_shows_the_phone_and_the_sentence(client, cast):
    cast.practice.phone, cast.practice.patient_contact_note = "+15555550100", NOTE
    cast.practice.save()
    sent = send(cast)
    sending.revoke_invitation(cast.pat, by=cast.alice)
    open_link(client, sent.token)
    body = html.unescape(client.get(reverse("portal:link-problem")).content.decode())
    assert f'Call Maple Street Clinic at <a href="tel:+15555550100">(555) 555-0100</a>. {NOTE}' in body


def test_the_invitation_email_carries_them(cast):
    cast.practice.phone, cast.practice.patient_contact_note = "+15555550100", NOTE
    cast.practice.save()
    send(cast)
    context = Message.objects.get().context
    assert (context["practice_phone"], context["practice_note"]) == ("(555) 555-0100", NOTE)
    text = render_to_string("mail/invitation-body.txt", {**context, "link": "https://portal.example.test/x"})
    assert f"Call Maple Street Clinic at (555) 555-0100. {NOTE}" in text
