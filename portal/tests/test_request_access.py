"""The practice's public "Request portal access" page: field-by-field refusals that keep what was typed,
never a 500, a honeypot, throttles, and the same answer, byte for byte, whoever asks."""

import re

import pytest
from django.test import Client
from django.urls import reverse

from access.actions import requests
from access.models import AccessRequest, Attempt
from portal import accepting

FORM = {"first_name": "Pat", "last_name": "Jones", "date_of_birth": "05/17/1980", "email": "pat@example.test",
        "phone": "(555) 555-0123", "note": ""}


def url(practice) -> str:
    return reverse("portal:request-access", args=[practice.pk])


def submit(client, practice, **changes):
    return client.post(url(practice), {**FORM, **changes}, follow=True)


def without_tokens(body: bytes) -> bytes:
    body = re.sub(rb'name="csrfmiddlewaretoken" value="[^"]+"', b"", body)
    return re.sub(rb'nonce="[^"]+"', b"", body)


def test_it_shows_the_form_with_the_practices_name(client, cast):
    response = client.get(url(cast.practice))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Request portal access" in html and "Maple Street Clinic" in html
    for name in ("first_name", "last_name", "date_of_birth", "email", "phone", "note", "website"):
        assert f'name="{name}"' in html


def test_an_unknown_practice_is_a_404(client, db):
    assert client.get(reverse("portal:request-access", args=[999999])).status_code == 404


def test_a_request_is_recorded_and_answered_in_the_same_words(client, cast):
    response = submit(client, cast.practice, email="Pat@Example.test")
    assert response.redirect_chain == [(reverse("portal:request-access-sent", args=[cast.practice.pk]), 302)]
    assert "Thank you. Maple Street Clinic will review your request; you will get an email." in \
        response.content.decode()
    access_request = AccessRequest.objects.get()
    assert (access_request.email, access_request.phone, str(access_request.date_of_birth)) == (
        "pat@example.test", "+15555550123", "1980-05-17")


def test_the_answer_is_the_same_bytes_for_a_patient_and_a_stranger(cast):
    known = submit(Client(), cast.practice)  # Pat is on file
    unknown = submit(Client(), cast.practice, first_name="Nobody", last_name="Atall", email="no.one@example.test",
                     date_of_birth="01/02/1990")
    assert known.status_code == unknown.status_code == 200
    assert without_tokens(known.content) == without_tokens(unknown.content)
    assert AccessRequest.objects.count() == 2


@pytest.mark.parametrize(("field", "value", "message"), [
    ("date_of_birth", "02/30/1990", "Enter your date of birth as month/day/year"),
    ("date_of_birth", "05/17/2999", "The date of birth cannot be in the future."),
    ("first_name", "P" * 200, "at most 100 characters"),
    ("phone", "555-0123", "Include the area code"),
    ("email", "not-an-email", "Enter an email address like name@example.com."),
    ("last_name", "", "This field is required."),
    ("note", "x\x00y", "Null characters are not allowed."),
    ("email", "pat\x00@example.test", "Null characters are not allowed."),
])
def test_bad_input_is_refused_by_field_keeping_what_was_typed(client, cast, field, value, message):
    response = submit(client, cast.practice, **{field: value})
    assert response.status_code == 200
    html = response.content.decode()
    assert message in html
    assert 'value="Jones"' in html or field == "last_name"
    assert "(555) 555-0123" in html or field == "phone"
    assert not AccessRequest.objects.exists()


def test_a_nul_in_any_field_never_500s(client, cast):
    for field in FORM:
        response = submit(client, cast.practice, **{field: "a\x00b"})
        assert response.status_code == 200
    assert not AccessRequest.objects.exists()


def test_a_filled_honeypot_is_thanked_and_nothing_is_done(client, cast):
    response = submit(client, cast.practice, website="http://spam.example")
    assert "will review your request" in response.content.decode()
    assert not AccessRequest.objects.exists() and not Attempt.objects.exists()


def test_it_is_throttled_per_address(client, cast):
    for _ in range(requests.MAX_REQUESTS_PER_ADDRESS):
        submit(client, cast.practice)
    response = submit(client, cast.practice)
    html = response.content.decode()
    assert "Too many requests" in html and 'value="Jones"' in html
    assert AccessRequest.objects.count() == 1  # the repeats were merged


def test_the_sign_in_and_dead_link_pages_link_to_it(client, cast):
    login = client.get(reverse("portal:login"), {"practice": cast.practice.pk}).content.decode()
    assert f'href="{url(cast.practice)}"' in login
    assert "Request portal access" in client.get(reverse("portal:login"), {"practice": "x'\x00"}).content.decode()
    session = client.session
    accepting.note_link_problem(session, "revoked", cast.practice.pk)
    session.save()
    problem = client.get(reverse("portal:link-problem"))
    assert problem.status_code == 410
    assert f'href="{url(cast.practice)}"' in problem.content.decode()
