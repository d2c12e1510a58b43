import datetime

from django.contrib.messages import get_messages
from django.urls import reverse

from access.actions import sending
from access.models import AccessEvent, Channel, Invitation
from clinic.models import Patient


def url(patient) -> str:
    return reverse("clinic:demographics", args=[patient.pk])


def form_data(**changes) -> dict:
    data = {"first_name": "Ned", "last_name": "Stone", "email": "", "date_of_birth": "", "phone": "", "ssn": "",
            "doctor": ""}
    return {**data, **changes}


def test_it_requires_login(client, cast):
    assert client.get(url(cast.ned)).status_code == 302
    assert client.post(url(cast.ned), form_data(email="ned@example.test")).status_code == 302
    assert Patient.objects.get(pk=cast.ned.pk).email == ""


def test_it_hides_other_practice(client, cast):
    client.force_login(cast.bob.user)
    assert client.get(url(cast.ned)).status_code == 404
    assert client.post(url(cast.ned), form_data(email="ned@example.test")).status_code == 404
    assert Patient.objects.get(pk=cast.ned.pk).email == ""
    assert AccessEvent.objects.filter(action=AccessEvent.Action.FOREIGN_ID).count() == 2


def test_it_shows_the_details_without_the_ssn(client, cast):
    client.force_login(cast.alice.user)
    html = client.get(url(cast.pat)).content.decode()
    assert 'value="pat@example.test"' in html
    assert 'value="1980-05-17"' in html
    assert "(555) 555-0123" in html
    assert "On file: ***-**-6789. Leave blank to keep it." in html
    assert "123456789" not in html and "123-45-6789" not in html


def test_it_saves_normalised_details(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned), form_data(
        first_name="  Ned ", email="Ned.Stone@EXAMPLE.test", date_of_birth="1975-03-04", phone="555 555 0199",
        ssn="234-56-7890", doctor=str(cast.dora.pk),
    ))
    assert response.status_code == 302
    ned = Patient.objects.get(pk=cast.ned.pk)
    assert (ned.first_name, ned.email, ned.phone, ned.ssn) == ("Ned", "Ned.Stone@example.test", "+15555550199", "234567890")
    assert ned.date_of_birth == datetime.date(1975, 3, 4)
    assert [str(m) for m in get_messages(response.wsgi_request)] == ["Saved Ned Stone's details."]


def test_it_keeps_the_ssn_when_left_blank_and_removes_it_when_asked(client, cast):
    client.force_login(cast.alice.user)
    data = form_data(first_name="Pat", last_name="Jones", email="pat@example.test", date_of_birth="1980-05-17",
                     phone="+15555550123")
    client.post(url(cast.pat), data)
    assert Patient.objects.get(pk=cast.pat.pk).ssn == "123456789"
    client.post(url(cast.pat), {**data, "clear_ssn": "on"})
    assert Patient.objects.get(pk=cast.pat.pk).ssn == ""


def test_it_shows_field_errors_and_changes_nothing(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned), form_data(
        first_name="", email="not-an-email", date_of_birth="2999-01-01", phone="12", ssn="000-12-3456",
    ))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert errors["first_name"] == ["This field is required."]
    assert errors["email"] == ["Enter an email address like name@example.com."]
    assert errors["date_of_birth"] == ["The date of birth cannot be in the future."]
    assert errors["phone"] == ["This phone number has the wrong number of digits."]
    assert errors["ssn"] == ["This is not a valid social security number."]
    html = response.content.decode()
    assert 'aria-invalid="true"' in html
    assert "Nothing was saved: please correct the fields marked below." in html
    ned = Patient.objects.get(pk=cast.ned.pk)
    assert (ned.first_name, ned.email, ned.phone, ned.ssn, ned.date_of_birth) == ("Ned", "", "", "", None)


def test_it_refuses_a_doctor_of_another_practice(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned), form_data(doctor=str(cast.bob.pk)))
    assert "doctor" in response.context["form"].errors
    assert Patient.objects.get(pk=cast.ned.pk).doctor == cast.dora


def test_it_revokes_a_pending_invitation_when_the_email_changes(client, cast):
    sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    client.force_login(cast.alice.user)
    client.post(url(cast.pat), form_data(first_name="Pat", last_name="Jones", email="new@example.test",
                                         date_of_birth="1980-05-17", phone="+15555550123"))
    assert Invitation.objects.get().status == Invitation.Status.REVOKED
    event = AccessEvent.objects.order_by("-id").first()
    assert (event.action, event.reason, event.actor) == ("invitation.revoked", "Email address changed", cast.alice.user)


def test_it_refuses_a_phone_without_its_area_code_and_says_so(client, cast):
    client.force_login(cast.alice.user)
    response = client.post(url(cast.ned), form_data(phone="555-0123"))
    assert response.context["form"].errors["phone"] == ["Include the area code, like (555) 555-0123."]
    assert Patient.objects.get(pk=cast.ned.pk).phone == ""
