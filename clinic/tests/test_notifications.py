from django.urls import reverse
from django.utils import timezone

from access.models import AccessEvent
from clinic.models import Notification

URL = reverse("clinic:notifications")


def notify(member, patient, text="Pat Jones accepted the portal invitation.") -> Notification:
    return Notification.objects.create(recipient=member, patient=patient, text=text, created_at=timezone.now())


def test_it_requires_login(client, cast):
    assert client.get(URL).status_code == 302
    note = notify(cast.alice, cast.pat)
    assert client.post(reverse("clinic:notification-read", args=[note.pk])).status_code == 302
    assert Notification.objects.get().read_at is None


def test_it_rejects_get(client, cast):
    note = notify(cast.alice, cast.pat)
    client.force_login(cast.alice.user)
    assert client.get(reverse("clinic:notification-read", args=[note.pk])).status_code == 405
    assert client.get(reverse("clinic:notifications-read-all")).status_code == 405
    assert Notification.objects.get().read_at is None


def test_it_hides_other_practice(client, cast):
    note = notify(cast.alice, cast.pat)
    client.force_login(cast.bob.user)
    assert b"Pat Jones" not in client.get(URL).content
    assert client.post(reverse("clinic:notification-read", args=[note.pk])).status_code == 404
    assert Notification.objects.get().read_at is None
    event = AccessEvent.objects.get()
    assert (event.action, event.reason) == (AccessEvent.Action.FOREIGN_ID, f"notification {note.pk}")


def test_it_hides_a_colleagues_notifications(client, cast):
    note = notify(cast.dora, cast.pat)
    client.force_login(cast.alice.user)
    assert client.post(reverse("clinic:notification-read", args=[note.pk])).status_code == 404
    assert Notification.objects.get().read_at is None


def test_it_shows_the_unread_count_on_the_bell(client, cast):
    notify(cast.alice, cast.pat)
    notify(cast.alice, cast.pat, "The portal invitation email to Pat Jones could not be delivered.")
    notify(cast.dora, cast.pat)
    client.force_login(cast.alice.user)
    html = client.get(reverse("clinic:patients")).content.decode()
    assert 'aria-label="Notifications, 2 unread"' in html


def test_it_lists_and_marks_read(client, cast):
    first = notify(cast.alice, cast.pat)
    notify(cast.alice, cast.pat, "The portal invitation email to Pat Jones could not be delivered.")
    client.force_login(cast.alice.user)
    html = client.get(URL).content.decode()
    assert "Pat Jones accepted the portal invitation." in html
    assert "could not be delivered" in html
    assert reverse("clinic:portal-access", args=[cast.pat.pk]) in html
    response = client.post(reverse("clinic:notification-read", args=[first.pk]))
    assert response.url == URL
    first.refresh_from_db()
    assert first.read_at is not None
    assert Notification.objects.filter(read_at__isnull=True).count() == 1
    client.post(reverse("clinic:notifications-read-all"))
    assert not Notification.objects.filter(read_at__isnull=True).exists()
    assert 'aria-label="Notifications, 0 unread"' in client.get(URL).content.decode()


def test_it_runs_a_constant_number_of_queries(client, cast, django_assert_max_num_queries):
    for i in range(40):
        notify(cast.alice, cast.pat if i % 2 else cast.ned, f"Note {i}")
    client.force_login(cast.alice.user)
    with django_assert_max_num_queries(10):
        response = client.get(URL)
    assert len(response.context["page"]) == 25


def test_it_tells_the_sender_and_the_doctor_when_an_invitation_email_fails(client, cast):
    from access.actions import outcomes, sending
    from access.models import Channel

    sent = sending.send_invitation(cast.pat, by=cast.alice, channel=Channel.CHART)
    outcomes.record_email_outcome(sent.invitation.pk, delivered=False)
    for member in (cast.alice, cast.dora):
        client.force_login(member.user)
        html = client.get(URL).content.decode()
        assert "The portal invitation email to Pat Jones could not be delivered." in html
        assert 'aria-label="Notifications, 1 unread"' in html
    history = client.get(reverse("clinic:portal-access", args=[cast.pat.pk])).content.decode()
    assert "Email delivery failed" in history
    assert '<span class="outcome failure">Failure</span>' in history
