"""The practice's Settings page: admins only, every setting checked at its limits, each change in the
access history (written by access.actions.change_practice_settings)."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from access.actions import practice_settings
from access.models import AccessEvent
from clinic.models import Practice, StaffMember

URL = reverse("clinic:settings")


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password="staff-password-123")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


def form(**changes) -> dict:
    data = {"auto_invite": "off", "reminder_days_before": "2", "reinvite_after_days": "", "reinvite_max": "3",
            "minimum_age": "13", "invite_ttl_days": "7", "renewal_days": "90", "phone": "",
            "patient_contact_note": "", "invite_by": "email", "proxy_limited_from_age": "12", "proxy_ends_at_age": "18"}
    return {**data, **changes}


def settings_of(practice) -> tuple:
    p = Practice.objects.get(pk=practice.pk)
    return (p.auto_invite, p.reminder_days_before, p.reinvite_after_days, p.reinvite_max, p.minimum_age,
            p.invite_ttl_days, p.phone, p.patient_contact_note)


def test_it_requires_login_and_an_admin(client, cast):
    assert client.post(URL, form(invite_ttl_days="3")).status_code == 302
    client.force_login(cast.alice.user)
    assert client.get(URL).status_code == 404
    assert client.post(URL, form(invite_ttl_days="3")).status_code == 404
    client.force_login(cast.bob.user)
    assert client.post(URL, form(invite_ttl_days="3")).status_code == 404
    assert settings_of(cast.practice)[5] == 7


def test_an_admin_changes_settings_and_each_change_is_recorded(client, cast, admin):
    client.force_login(admin.user)
    response = client.post(URL, form(auto_invite="booked", reminder_days_before="", reinvite_after_days="60",
                                     reinvite_max="5", minimum_age="18", invite_ttl_days="30",
                                     phone="(555) 555-0100", patient_contact_note="Call us weekdays 8 to 5."))
    assert response.status_code == 302
    assert settings_of(cast.practice) == ("booked", None, 60, 5, 18, 30, "+15555550100", "Call us weekdays 8 to 5.")
    reasons = list(AccessEvent.objects.filter(action="practice.settings_changed").order_by("id").values_list(
        "reason", flat=True))
    assert reasons == [
        "Invite automatically: Off → When an appointment is booked",
        "Reminder before expiry: 2 days before → Off",
        "Re-invite patients who did not accept: Off → after 60 days",
        "Re-invites at most: 3 times at most → 5 times at most",
        "Minimum age for an invitation: 13 → 18",
        "Invitation lifetime (days): 7 days → 30 days",
        "Phone: None → (555) 555-0100",
        "Sentence for patients: None → “Call us weekdays 8 to 5.”",
    ]
    event = AccessEvent.objects.filter(action="practice.settings_changed").first()
    assert (event.actor, event.patient, event.practice) == (admin.user, None, cast.practice)
    client.post(URL, form(auto_invite="booked", reminder_days_before="", reinvite_after_days="60",
                          reinvite_max="5", minimum_age="18", invite_ttl_days="30",
                          phone="(555) 555-0100", patient_contact_note="Call us weekdays 8 to 5."))
    assert AccessEvent.objects.filter(action="practice.settings_changed").count() == 8  # nothing changed


@pytest.mark.parametrize(("field", "bad", "good"), [
    ("invite_ttl_days", "0", "1"), ("invite_ttl_days", "31", "30"), ("reinvite_max", "0", "1"),
    ("reinvite_max", "6", "5"), ("minimum_age", "22", "21"), ("reminder_days_before", "30", "29"),
    ("reinvite_after_days", "45", "90"), ("phone", "555-0100", "+442079460000"),
])
def test_every_setting_at_its_limits(client, cast, admin, field, bad, good):
    client.force_login(admin.user)
    # A reminder must fall inside the lifetime: keep the other one out of the way.
    extra = {"invite_ttl_days": {"reminder_days_before": ""}, "reminder_days_before": {"invite_ttl_days": "30"}}.get(field, {})
    before = settings_of(cast.practice)
    response = client.post(URL, form(**{**extra, field: bad}))
    assert response.status_code == 200 and field in response.context["form"].errors
    assert settings_of(cast.practice) == before
    assert client.post(URL, form(**{**extra, field: good})).status_code == 302


def test_a_reminder_must_fall_inside_the_invitation_lifetime(client, cast, admin):
    client.force_login(admin.user)
    response = client.post(URL, form(invite_ttl_days="3", reminder_days_before="3"))
    assert response.context["form"].errors["reminder_days_before"] == [
        "The reminder must come before the invitation expires: choose fewer days than its lifetime."]
    assert client.post(URL, form(invite_ttl_days="3", reminder_days_before="2")).status_code == 302


def test_the_action_refuses_and_changes_nothing(cast, admin):
    before = settings_of(cast.practice)
    with pytest.raises(ValidationError):
        practice_settings.change_practice_settings(cast.practice, by=admin, invite_ttl_days=31)
    assert settings_of(cast.practice) == before
    assert not AccessEvent.objects.exists()


@pytest.mark.parametrize(("posted", "stored", "recorded"), [
    ("", None, "Patients may renew an expired invitation: up to 90 days after expiry → Off"),
    ("30", 30, "Patients may renew an expired invitation: up to 90 days after expiry → up to 30 days after expiry"),
])
def test_the_renewal_setting_is_changed_and_recorded(client, cast, admin, posted, stored, recorded):
    assert Practice.objects.get(pk=cast.practice.pk).renewal_days == 90  # on by default
    client.force_login(admin.user)
    assert client.post(URL, form(renewal_days=posted)).status_code == 302
    assert Practice.objects.get(pk=cast.practice.pk).renewal_days == stored
    assert list(AccessEvent.objects.filter(action="practice.settings_changed").values_list("reason", flat=True)) == [
        recorded]


def test_a_renewal_window_not_offered_is_refused_and_nothing_changes(client, cast, admin):
    client.force_login(admin.user)
    response = client.post(URL, form(renewal_days="1000"))
    assert response.status_code == 200 and "renewal_days" in response.context["form"].errors
    assert Practice.objects.get(pk=cast.practice.pk).renewal_days == 90
    assert not AccessEvent.objects.filter(action="practice.settings_changed").exists()


def test_invite_by_is_a_setting_recorded_like_the_others(client, cast, django_user_model, settings):
    user = django_user_model.objects.create_user(username="manager", password="staff-password-123")
    admin = StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)
    client.force_login(admin.user)
    settings.PORTICO_SMS_ACCOUNT_SID = ""
    assert b"Texts are off" in client.get(reverse("clinic:settings")).content

    assert client.post(reverse("clinic:settings"), form(invite_by="email_and_text")).status_code == 302

    assert Practice.objects.get(pk=cast.practice.pk).invite_by == "email_and_text"
    assert AccessEvent.objects.filter(action="practice.settings_changed").latest("id").reason == (
        "Invite by: Email → Email and text")
