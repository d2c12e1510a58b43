import pytest
from django.core.management import CommandError, call_command

from access.history import first_broken_event
from access.models import AccessEvent
from access.tests.helpers import connect


@pytest.fixture
def history(cast):
    connect(cast)
    return list(AccessEvent.objects.filter(practice=cast.practice).order_by("id"))


def test_each_event_chains_to_the_previous_one(cast, history):
    assert len(history) == 4
    assert history[0].prev_hash == ""
    for before, after in zip(history, history[1:], strict=False):
        assert after.prev_hash == before.hash
    cast.practice.refresh_from_db()
    assert cast.practice.history_head == history[-1].hash
    assert first_broken_event(cast.practice) is None


def test_it_finds_an_edited_event(cast, history):
    AccessEvent.objects.filter(pk=history[1].pk).update(actor_role="doctor")
    assert first_broken_event(cast.practice) == (history[1].pk, "this event was altered")


def test_it_finds_a_removed_event(cast, history):
    AccessEvent.objects.filter(pk=history[1].pk).delete()
    assert first_broken_event(cast.practice) == (history[2].pk, "an earlier event was removed or altered")


def test_it_finds_a_removed_newest_event(cast, history):
    AccessEvent.objects.filter(pk=history[-1].pk).delete()
    assert first_broken_event(cast.practice) == (None, "the newest events were removed")


def test_the_command_reports_each_practice(cast, history, capsys):
    call_command("verify_history")
    out = capsys.readouterr().out
    assert f"Maple Street Clinic (practice {cast.practice.pk}): history intact" in out
    AccessEvent.objects.filter(pk=history[2].pk).update(reason="edited")
    with pytest.raises(CommandError, match="1 practice histories failed"):
        call_command("verify_history")
    assert f"BROKEN at event {history[2].pk}: this event was altered" in capsys.readouterr().out


def test_events_never_hold_the_token_or_personal_details(cast):
    sent, _ = connect(cast)
    for row in AccessEvent.objects.values():
        text = str(row)
        for secret in (sent.token, "pat@example.test", "123456789", "5550123", "1980-05-17"):
            assert secret not in text
