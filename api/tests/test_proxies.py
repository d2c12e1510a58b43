"""Proxies under a patient's portal access in the API (issue 21): list, invite a guardian, revoke, with
the invitations' problem codes; another practice's ids are 404 and recorded; the proxy.* webhook
events carry ids only, whichever side wrote the event."""

import datetime

import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone

from access.actions import proxies, proxy_periodic
from access.models import AccessEvent, Proxy
from access.tests.proxy_helpers import JORDAN, accept, child, proxy_snapshot
from api.models import WebhookDelivery, WebhookEndpoint
from conftest import NOW

BODY = {"first_name": "Jordan", "last_name": "Rivera", "relationship": "mother", "email": "jordan@example.test",
        "mobile_phone": "(555) 555-0177"}


def url(patient, rest: str = "") -> str:
    return f"/patients/{patient.pk}/portal_access/proxies{rest}"


def test_invite_list_and_revoke(api, cast):
    alex = child(cast, datetime.date(2018, 6, 1))
    with time_machine.travel(NOW, tick=False):
        created = api.post(url(alex), BODY)
        assert created.status_code == 201
        body = created.json()
        proxy = Proxy.objects.get()
        assert body == {"id": proxy.pk, "kind": "guardian", "status": "pending", "first_name": "Jordan",
                        "last_name": "Rivera", "relationship": "mother", "email": "jordan@example.test",
                        "level": "full", "since": "2026-11-02T15:00:00Z", "end_reason": "",
                        "link_expires_at": "2026-11-09T15:00:00Z"}
        assert proxy.mobile_phone == "+15555550177"
        assert AccessEvent.objects.get(proxy=proxy).channel == ""
        assert [p["id"] for p in api.get(url(alex)).json()] == [proxy.pk]
        assert api.delete(url(alex, f"/{proxy.pk}")).status_code == 204
        assert api.get(url(alex)).json()[0]["status"] == "revoked"
        again = api.delete(url(alex, f"/{proxy.pk}"))
    assert (again.status_code, again.json()["code"]) == (404, "nothing_to_revoke")


def test_refusals_use_the_invitations_problem_codes_and_change_nothing(api, cast):
    alex = child(cast, datetime.date(2018, 6, 1))
    before = proxy_snapshot()
    missing = api.post(url(alex), {**BODY, "mobile_phone": ""})
    assert (missing.status_code, missing.json()["code"]) == (422, "not_eligible")
    assert missing.json()["missing"] == ["Enter the parent's or guardian's mobile phone number"]
    bad = api.post(url(alex), {**BODY, "relationship": "spouse"})  # a caregiver: only the patient invites one
    assert (bad.status_code, bad.json()["code"], list(bad.json()["errors"])) == (422, "invalid", ["relationship"])
    adult = api.post(url(cast.pat), BODY)
    assert (adult.status_code, adult.json()["code"]) == (422, "not_eligible")
    assert proxy_snapshot() == before
    api.post(url(alex), BODY)
    twice = api.post(url(alex), BODY)
    assert (twice.status_code, twice.json()["code"]) == (409, "already_pending")


def test_another_practices_ids_are_404_and_recorded(api, bob_api, cast):
    alex = child(cast, datetime.date(2018, 6, 1))
    proxy = proxies.invite_guardian(alex, JORDAN, by=cast.alice).proxy
    bea_child = child(cast, datetime.date(2018, 6, 1), chart="B-1")
    bea_child.practice = cast.other_practice
    bea_child.save()
    before = proxy_snapshot()
    assert bob_api.get(url(alex)).status_code == 404
    assert bob_api.post(url(alex), BODY).status_code == 404
    assert bob_api.delete(url(alex, f"/{proxy.pk}")).status_code == 404
    assert bob_api.delete(url(bea_child, f"/{proxy.pk}")).status_code == 404  # its own patient, our proxy
    assert proxy_snapshot() == {**before, "events": before["events"] + 4}  # the 4 refusals, recorded
    assert AccessEvent.objects.filter(practice=cast.other_practice, action="security.foreign_id").count() == 4


def test_the_webhook_events_carry_ids_only_whichever_side_wrote_them(cast):
    WebhookEndpoint.objects.create(practice=cast.practice, url="https://hooks.example.test/e", secret="whsec_x",
                                   created_at=timezone.now())
    alex = child(cast, datetime.date(2008, 11, 3))
    with time_machine.travel(datetime.datetime(2026, 10, 30, 15, 0, tzinfo=datetime.UTC), tick=False):
        sent = proxies.invite_guardian(alex, JORDAN, by=cast.alice)
        mother = sent.proxy
        accept(sent, get_user_model().objects.create_user("jordan@example.test"))  # the proxy's side
        father = proxies.invite_guardian(alex, JORDAN.__class__("Sam", "Rivera", "father", "sam@example.test",
                                                                "+15555550178"), by=cast.alice).proxy
        proxies.revoke_proxy(father, by=cast.alice)
    with time_machine.travel(datetime.datetime(2026, 11, 3, 5, 0, tzinfo=datetime.UTC), tick=False):
        proxy_periodic.run_proxy_birthdays()
    payloads = [d.payload for d in WebhookDelivery.objects.order_by("pk")]
    assert [(p["type"], p["proxy"]) for p in payloads] == [
        ("proxy.invited", mother.pk), ("proxy.accepted", mother.pk), ("proxy.invited", father.pk),
        ("proxy.revoked", father.pk), ("proxy.ended", mother.pk)]
    assert all(set(p) == {"id", "type", "occurred_at", "practice", "patient", "invitation", "proxy"} and
               p["patient"] == alex.pk and p["invitation"] is None for p in payloads)
