"""The practice's holidays and the worklist bell on Settings: checked, saved, each change recorded."""

import pytest
from django.urls import reverse

from access.models import AccessEvent
from clinic.models import Practice, StaffMember
from clinic.tests.test_settings_page import form

URL = reverse("clinic:settings")


@pytest.fixture
def admin(cast, django_user_model):
    user = django_user_model.objects.create_user(username="manager", password="staff-password-123")
    return StaffMember.objects.create(user=user, practice=cast.practice, role=StaffMember.Role.ADMIN)


def recorded() -> list[str]:
    return list(AccessEvent.objects.filter(action="practice.settings_changed").order_by("id")
                .values_list("reason", flat=True))


def test_an_admin_records_holidays_and_each_change_is_in_the_history(client, cast, admin):
    client.force_login(admin.user)
    assert client.post(URL, form(holidays="2026-12-25\n2027-01-01\n\n2026-12-25")).status_code == 302
    assert Practice.objects.get(pk=cast.practice.pk).holidays == ["2026-12-25", "2027-01-01"]
    assert client.post(URL, form(holidays="2027-01-01, 2026-11-26")).status_code == 302
    assert Practice.objects.get(pk=cast.practice.pk).holidays == ["2026-11-26", "2027-01-01"]
    assert recorded() == ["Holidays: added 25 Dec 2026, 1 Jan 2027",
                          "Holidays: added 26 Nov 2026; removed 25 Dec 2026"]
    page = client.get(URL).content.decode()
    assert "2026-11-26\n2027-01-01" in page


def test_a_bad_holiday_is_refused_and_nothing_changes(client, cast, admin):
    client.force_login(admin.user)
    response = client.post(URL, form(holidays="2026-12-25\nChristmas"))
    assert response.status_code == 200
    assert response.context["form"].errors["holidays"] == ["“Christmas” is not a date like 2026-12-25."]
    assert Practice.objects.get(pk=cast.practice.pk).holidays == [] and recorded() == []


def test_the_worklist_bell_is_a_setting(client, cast, admin):
    client.force_login(admin.user)
    assert client.post(URL, form(worklist_bell="on")).status_code == 302
    assert Practice.objects.get(pk=cast.practice.pk).worklist_bell is True
    assert recorded() == ["Tell doctors each morning how many visits are due for portal access: Off → On"]
