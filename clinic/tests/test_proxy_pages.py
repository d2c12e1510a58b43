"""Parents and guardians on Portal Access (issue 21): listed with their state, invited with errors in
words and nothing lost, resent, revoked after a confirmation; caregivers for adults; another
practice's proxy is a 404, recorded; the two ages on Settings, recorded."""

import datetime

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.urls import reverse

from access.actions import proxies
from access.models import AccessEvent, Proxy
from access.tests.proxy_helpers import JORDAN, accept, child, proxy_snapshot
from clinic.models import StaffMember
from conftest import NOW
from mail.models import Message

FORM = {"guardian-first_name": "Jordan", "guardian-last_name": "Rivera", "guardian-relationship": "mother",
        "guardian-email": "jordan@example.test", "guardian-mobile_phone": "(555) 555-0177"}


@pytest.fixture
def alex(cast):
    return child(cast, datetime.date(2018, 6, 1))


@pytest.fixture
def staff(client, cast):
    client.force_login(cast.alice.user)
    return client


def page(client, patient) -> str:
    return client.get(reverse("clinic:portal-access", args=[patient.pk])).content.decode()


def test_a_minors_page_lists_guardians_with_their_state_and_offers_the_form(staff, cast, alex):
    with time_machine.travel(NOW, tick=False):
        proxies.invite_guardian(alex, JORDAN, by=cast.alice)
        html = page(staff, alex)
    assert "Parents and guardians" in html and "Invite a parent or guardian" in html
    assert "Jordan Rivera" in html and "Mother" in html and ">Pending<" in html and ">Full<" in html
    assert "Resend to Jordan Rivera" in html and "Revoke Jordan Rivera" in html
    assert "The patient agrees to this person having full access" not in html  # 8: full by default


def test_a_teens_form_has_the_agreement_box(staff, cast):
    teen = child(cast, datetime.date(2012, 1, 15))
    with time_machine.travel(NOW, tick=False):
        assert "The patient agrees to this person having full access" in page(staff, teen)


def test_inviting_from_the_page(staff, cast, alex):
    with time_machine.travel(NOW, tick=False):
        response = staff.post(reverse("clinic:invite-guardian", args=[alex.pk]), FORM, follow=True)
    assert "Invitation sent to jordan@example.test for Alex Rivera." in response.content.decode()
    proxy = Proxy.objects.get()
    assert (proxy.mobile_phone, proxy.invited_by, proxy.level) == ("+15555550177", cast.alice, "full")
    assert AccessEvent.objects.filter(proxy=proxy, action="proxy.invited", client_ip="127.0.0.1").exists()


def test_a_refused_invitation_says_what_is_missing_and_keeps_what_was_typed(staff, cast, alex):
    before = proxy_snapshot()
    with time_machine.travel(NOW, tick=False):
        response = staff.post(reverse("clinic:invite-guardian", args=[alex.pk]), {**FORM, "guardian-mobile_phone": ""})
    html = response.content.decode()
    assert response.status_code == 400
    assert "Enter the parent&#x27;s or guardian&#x27;s mobile phone number" in html
    assert 'value="jordan@example.test"' in html and 'value="Jordan"' in html
    assert proxy_snapshot() == before


def test_a_bad_phone_is_refused_on_its_field(staff, cast, alex):
    before = proxy_snapshot()
    response = staff.post(reverse("clinic:invite-guardian", args=[alex.pk]), {**FORM, "guardian-mobile_phone": "555-0177"})
    assert "Include the area code" in response.content.decode()
    assert proxy_snapshot() == before


def test_resend_and_revoke_after_confirmation(staff, cast, alex):
    with time_machine.travel(NOW, tick=False):
        proxy = proxies.invite_guardian(alex, JORDAN, by=cast.alice).proxy
        staff.post(reverse("clinic:resend-proxy", args=[alex.pk, proxy.pk]))
        confirm = staff.get(reverse("clinic:revoke-proxy", args=[alex.pk, proxy.pk])).content.decode()
        assert "Revoke Jordan Rivera's access to Alex Rivera's portal?" in confirm
        assert Proxy.objects.get().status == "invited"  # asking changes nothing
        staff.post(reverse("clinic:revoke-proxy", args=[alex.pk, proxy.pk]))
        proxy.refresh_from_db()
        assert (proxy.status, proxy.invitations.count()) == ("revoked", 2)
        assert ">Revoked<" in page(staff, alex)


def test_an_adults_page_lists_caregivers_with_revoke_and_no_guardian_form(staff, cast):
    Proxy.objects.create(practice=cast.practice, patient=cast.pat, kind="caregiver", first_name="Kim", last_name="Jones",
                         relationship="spouse", email="kim@example.test", level="full", status="active", created_at=NOW)
    html = page(staff, cast.pat)
    assert "Caregivers" in html and "Kim Jones" in html and "Revoke Kim Jones" in html
    assert "Invite a parent or guardian" not in html


def test_history_names_the_proxy_who_acted(staff, cast, alex):
    with time_machine.travel(NOW, tick=False):
        accept(proxies.invite_guardian(alex, JORDAN, by=cast.alice),
               get_user_model().objects.create_user("jordan@example.test"))
    assert "<td>Jordan Rivera (mother)</td>" in page(staff, alex)  # the By column of "Proxy access accepted"


def test_another_practices_proxy_is_404_and_recorded(client, cast, alex):
    bea_child = child(cast, datetime.date(2018, 6, 1), chart="B-300")
    bea_child.practice = cast.other_practice
    bea_child.save()
    with time_machine.travel(NOW, tick=False):
        foreign = proxies.invite_guardian(bea_child, JORDAN, by=cast.bob).proxy
    client.force_login(cast.alice.user)
    before = proxy_snapshot()["proxies"]
    assert client.post(reverse("clinic:revoke-proxy", args=[alex.pk, foreign.pk])).status_code == 404
    assert client.post(reverse("clinic:resend-proxy", args=[bea_child.pk, foreign.pk])).status_code == 404
    assert proxy_snapshot()["proxies"] == before
    assert AccessEvent.objects.filter(practice=cast.practice, action="security.foreign_id").count() == 2


def test_the_ages_are_practice_settings_recorded(client, cast):
    admin = StaffMember.objects.create(user=get_user_model().objects.create_user("admin"), practice=cast.practice,
                                       role=StaffMember.Role.ADMIN)
    client.force_login(admin.user)
    form = client.get(reverse("clinic:settings")).context["form"]
    data = {name: value for name, value in form.initial.items() if value is not None and name in form.fields}
    data.update({"proxy_limited_from_age": 13, "proxy_ends_at_age": 18, "holidays": ""})
    client.post(reverse("clinic:settings"), data)
    cast.practice.refresh_from_db()
    assert (cast.practice.proxy_limited_from_age, cast.practice.proxy_ends_at_age) == (13, 18)
    assert AccessEvent.objects.get(action="practice.settings_changed").reason == \
        "Guardians' access is limited from age: 12 → 13"
    data.update({"proxy_limited_from_age": 17, "proxy_ends_at_age": 16})
    response = client.post(reverse("clinic:settings"), data)
    assert "Choose an age below the age guardians" in response.content.decode()
    cast.practice.refresh_from_db()
    assert (cast.practice.proxy_limited_from_age, cast.practice.proxy_ends_at_age) == (13, 18)


def test_the_guardians_email_is_in_its_practices_mailbox_only(client, cast, alex, settings, tmp_path):
    from clinic.tests.test_mailbox import catching, delivered, listed, opened

    with catching(settings, tmp_path):
        proxies.invite_guardian(alex, JORDAN, by=cast.alice)
        key = delivered(Message.objects.get(kind="proxy-invitation"))
        assert "Access to Alex Rivera&#x27;s portal at Maple Street Clinic" in listed(client, cast.alice)
        assert (opened(client, cast.alice, key), opened(client, cast.bob, key)) == (200, 404)


def test_staff_record_a_teens_agreement_to_full_access(staff, cast):
    teen = child(cast, datetime.date(2012, 1, 15))
    with time_machine.travel(NOW, tick=False):
        proxy = proxies.invite_guardian(teen, JORDAN, by=cast.alice).proxy
        assert "Record the patient's agreement to full access" in page(staff, teen)
        staff.post(reverse("clinic:proxy-teen-agreement", args=[teen.pk, proxy.pk]))
    proxy.refresh_from_db()
    assert (proxy.level, proxy.teen_agreement_by, proxy.teen_agreement_at) == ("full", cast.alice, NOW)
