import datetime
import hashlib
import hmac
import importlib
import json
import threading
from unittest import mock

import pytest
import time_machine
from django.apps import apps as django_apps
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from access.actions import sending
from access.history import (
    HASHED_FIELDS,
    Actor,
    append,
    checkpoint_problem,
    current_key,
    entry_hash,
    event_hash,
    first_broken_event,
    make_checkpoint,
    new_event,
    record,
    seal,
    unsealed_count,
)
from access.models import AccessEvent
from access.tests.helpers import connect
from clinic.models import Patient, Practice
from conftest import NOW, at_once, postgres_only


@pytest.fixture
def history(cast):
    """Four events, sealed (in a test's transaction nothing commits, so sealing is called here)."""
    connect(cast)
    assert seal(cast.practice) == 4
    return list(AccessEvent.objects.filter(practice=cast.practice).order_by("sequence"))


def test_each_event_chains_to_the_previous_one(cast, history):
    assert len(history) == 4
    assert [event.sequence for event in history] == [1, 2, 3, 4]
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


# --- the chain is keyed: rewriting it needs a key the database does not hold ---------------------

def _forge_without_removed(practice, history, removed, seal) -> None:
    """What a database writer would do: drop one event and re-seal everything after it, and the head."""
    AccessEvent.objects.filter(pk=removed.pk).delete()
    prev = removed.prev_hash
    for event in AccessEvent.objects.filter(practice=practice, sequence__gt=removed.sequence).order_by("sequence"):
        event.prev_hash = prev
        event.hash = seal(event)
        event.save(update_fields=["prev_hash", "hash"])
        prev = event.hash
    Practice.objects.filter(pk=practice.pk).update(history_head=prev)


def _plain_sha256(event) -> str:
    content = {name: getattr(event, name) for name in HASHED_FIELDS}
    content["at"] = event.at.isoformat(timespec="microseconds")
    return hashlib.sha256(json.dumps(content, sort_keys=True, default=str).encode()).hexdigest()


@pytest.mark.parametrize("seal", [
    _plain_sha256,
    lambda event: event_hash(event, "a-guessed-key-that-is-not-the-practices-own"),
], ids=["plain-sha256", "wrong-key"])
def test_a_re_sealed_history_without_the_key_is_caught(cast, history, seal):
    _forge_without_removed(cast.practice, history, history[1], seal)
    assert first_broken_event(cast.practice) == (history[2].pk, "this event was altered")


def test_the_link_to_the_previous_event_is_sealed_too(cast, history):
    """Remove a middle event and point the next one at the event before: with prev_hash outside the
    seal, the next event would still verify and the removal would go unnoticed."""
    AccessEvent.objects.filter(pk=history[1].pk).delete()
    AccessEvent.objects.filter(pk=history[2].pk).update(prev_hash=history[1].prev_hash)
    assert first_broken_event(cast.practice) == (history[2].pk, "this event was altered")


KEY_OLD, KEY_NEW = "o" * 40, "n" * 40


def test_events_sealed_with_an_older_key_still_verify_after_rotation(cast, settings):
    settings.PORTICO_HISTORY_KEYS = {"2025": KEY_OLD}
    connect(cast)
    seal(cast.practice)
    settings.PORTICO_HISTORY_KEYS = {"2026": KEY_NEW, "2025": KEY_OLD}  # the new key goes in front
    sending.revoke_invitation(cast.pat, by=cast.alice)
    seal(cast.practice)
    key_ids = list(AccessEvent.objects.order_by("id").values_list("key_id", flat=True))
    assert key_ids == ["2025"] * 4 + ["2026"]
    assert first_broken_event(cast.practice) is None
    settings.PORTICO_HISTORY_KEYS = {"2026": KEY_NEW}  # the old key dropped too early
    first = AccessEvent.objects.order_by("id").first()
    assert first_broken_event(cast.practice) == (
        first.pk, "it is sealed with key id '2025', which PORTICO_HISTORY_KEYS does not hold")


# --- checkpoints kept outside the database ------------------------------------------------------

def test_a_checkpoint_catches_removed_newest_events_that_the_chain_cannot(cast, history):
    checkpoint = make_checkpoint(cast.practice)
    assert (checkpoint["event"], checkpoint["head"]) == (history[-1].pk, history[-1].hash)
    AccessEvent.objects.filter(pk=history[-1].pk).delete()  # needs no key: the head is just a copy
    Practice.objects.filter(pk=cast.practice.pk).update(history_head=history[-2].hash)
    assert first_broken_event(cast.practice) is None
    assert checkpoint_problem(checkpoint) == (
        f"event {history[-1].pk}, the newest at the checkpoint of {checkpoint['at']}, was removed")


def test_a_checkpoint_catches_a_rewrite_even_by_someone_holding_the_key(cast, history):
    checkpoint = make_checkpoint(cast.practice)
    _forge_without_removed(cast.practice, history, history[1], lambda e: event_hash(e, current_key()[1]))
    assert first_broken_event(cast.practice) is None
    assert "the history up to it was rewritten" in checkpoint_problem(checkpoint)


def test_a_checkpoint_cannot_be_edited_to_match(cast, history):
    checkpoint = make_checkpoint(cast.practice)
    assert checkpoint_problem(checkpoint) is None
    assert checkpoint_problem({**checkpoint, "head": history[-2].hash, "event": history[-2].pk}) == (
        "the checkpoint's signature does not match: it was altered or not made with our key")


def test_the_commands_export_and_check_checkpoints(cast, history, capsys, tmp_path):
    call_command("export_history_checkpoint")
    lines = capsys.readouterr().out.splitlines()
    assert [json.loads(line)["practice"] for line in lines] == [cast.practice.pk, cast.other_practice.pk]
    path = tmp_path / "checkpoints.jsonl"
    path.write_text("\n".join(lines) + "\n")
    call_command("verify_history", checkpoint=path)
    assert f"practice {cast.practice.pk}, checkpoint of" in capsys.readouterr().out
    AccessEvent.objects.filter(pk=history[-1].pk).delete()
    Practice.objects.filter(pk=cast.practice.pk).update(history_head=history[-2].hash)
    with pytest.raises(CommandError, match="1 practice histories failed"):
        call_command("verify_history", checkpoint=path)
    assert f"BROKEN: event {history[-1].pk}, the newest at the checkpoint" in capsys.readouterr().out


# --- the migration that moved the unkeyed chain to keyed seals -----------------------------------

reseal_migration = importlib.import_module("access.migrations.0003_history_keys")


def _as_before_the_migration(practice) -> list[AccessEvent]:
    prev = ""
    events = list(AccessEvent.objects.filter(practice=practice).order_by("id"))
    for event in events:
        event.key_id, event.prev_hash = "", prev
        event.hash = reseal_migration._old_hash(event)
        event.save(update_fields=["key_id", "prev_hash", "hash"])
        prev = event.hash
    Practice.objects.filter(pk=practice.pk).update(history_head=prev)
    return events


def test_the_migration_re_seals_an_intact_history_with_the_current_key(cast, history):
    _as_before_the_migration(cast.practice)
    reseal_migration.reseal(django_apps, None)
    assert set(AccessEvent.objects.values_list("key_id", flat=True)) == {current_key()[0]}
    assert first_broken_event(cast.practice) is None


def test_the_migration_does_not_bless_an_already_broken_history(cast, history):
    events = _as_before_the_migration(cast.practice)
    AccessEvent.objects.filter(pk=events[2].pk).update(reason="edited before the upgrade")
    reseal_migration.reseal(django_apps, None)
    assert first_broken_event(cast.practice)[0] == events[2].pk


# --- events not yet sealed ------------------------------------------------------------------------

def test_an_unsealed_event_is_not_reported_as_altered(cast, history, capsys):
    sending.revoke_invitation(cast.pat, by=cast.alice)  # (in a test's transaction: not sealed yet)
    newest = AccessEvent.objects.order_by("id").last()
    assert (newest.sequence, newest.prev_hash) == (None, "")
    assert first_broken_event(cast.practice) is None
    assert unsealed_count(cast.practice) == 1
    call_command("verify_history")
    assert "history intact (1 recent event(s) not yet sealed)" in capsys.readouterr().out
    assert seal(cast.practice) == 1
    assert (first_broken_event(cast.practice), unsealed_count(cast.practice)) == (None, 0)


def test_an_event_edited_before_it_was_sealed_is_caught_and_never_sealed(cast, history):
    sending.revoke_invitation(cast.pat, by=cast.alice)
    newest = AccessEvent.objects.order_by("id").last()
    AccessEvent.objects.filter(pk=newest.pk).update(reason="edited while waiting to be sealed")
    assert first_broken_event(cast.practice) == (newest.pk, "this event was altered")
    assert seal(cast.practice) == 0
    assert first_broken_event(cast.practice) == (newest.pk, "this event was altered")


def test_an_event_inserted_without_the_key_is_never_sealed(cast, history):
    forged = AccessEvent.objects.create(
        practice=cast.practice, at=history[-1].at, actor_kind="system", action="staff.signed_in",
        key_id=current_key()[0], hash="f" * 64)
    assert seal(cast.practice) == 0
    assert first_broken_event(cast.practice) == (forged.pk, "this event was altered")


def test_an_event_left_unsealed_over_ten_minutes_is_reported(cast, history):
    with time_machine.travel(NOW, tick=False):
        record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))
    newest = AccessEvent.objects.order_by("id").last()
    with time_machine.travel(NOW + datetime.timedelta(minutes=10), tick=False):
        assert first_broken_event(cast.practice) is None
    with time_machine.travel(NOW + datetime.timedelta(minutes=10, seconds=1), tick=False):
        assert first_broken_event(cast.practice) == (
            newest.pk, "it is still unsealed after 10 minutes (is run_periodic running?)")


def test_events_are_chained_in_the_order_they_are_sealed_not_by_id(cast, history):
    """A transaction that started first may commit last: its event then takes the next place."""
    late, early = [record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(m))
                   for m in (cast.alice, cast.dora)]
    AccessEvent.objects.filter(pk=late.pk).update(sequence=None)  # not committed yet when the sealer ran
    seal_only = AccessEvent.objects.filter(pk=early.pk)
    with mock.patch("access.history._unsealed", lambda practice_id: seal_only.filter(sequence__isnull=True)):
        assert seal(cast.practice) == 1
    assert seal(cast.practice) == 1
    late.refresh_from_db()
    early.refresh_from_db()
    assert (early.sequence, late.sequence) == (5, 6)
    assert first_broken_event(cast.practice) is None


def test_run_periodic_seals_what_a_crashed_writer_left(cast, capsys):
    connect(cast)  # in a test's transaction the on-commit sealing never runs: like a process killed after commit
    assert unsealed_count(cast.practice) == 4
    call_command("run_periodic", once=True)
    assert " UTC: sealed 4 access event(s)" in capsys.readouterr().out
    assert (unsealed_count(cast.practice), first_broken_event(cast.practice)) == (0, None)


@pytest.mark.django_db(transaction=True)
def test_each_commit_is_followed_by_sealing(cast):
    connect(cast)
    assert unsealed_count(cast.practice) == 0
    assert AccessEvent.objects.filter(practice=cast.practice).count() == 4
    assert first_broken_event(cast.practice) is None


# --- concurrent writers ----------------------------------------------------------------------------

@postgres_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_writers_keep_one_chain(cast):
    """Writers append without a lock; the sealing after each commit chains them in one order under
    the practice lock. Without it two sealers would chain to the same head."""
    def write_many():
        for _ in range(15):
            with transaction.atomic():
                record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))

    assert at_once(*[write_many] * 6) == [None] * 6
    assert AccessEvent.objects.filter(practice=cast.practice).count() == 90
    assert unsealed_count(cast.practice) == 0
    assert sorted(AccessEvent.objects.values_list("sequence", flat=True)) == list(range(1, 91))
    assert first_broken_event(cast.practice) is None


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_a_writer_does_not_wait_for_the_practice_lock(cast):
    """While another transaction holds the practice row (a sealer, a bulk chunk, or anything else), an
    event is still written and committed, and its writer does not wait to seal it either: the holder,
    the next seal or run_periodic chains it."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_practice():
        with transaction.atomic():
            Practice.objects.select_for_update(no_key=True).get(pk=cast.practice.pk)
            locked.set()
            release.wait(10)

    def write_then_see_it_committed():
        locked.wait(10)
        writer = threading.Thread(target=lambda: (record_in_transaction(), connection.close()))
        writer.start()
        # The writer finishes (its commit, and its seal that skips the held chain) while the practice is
        # still held: had it waited for the lock, it would still be running. Releasing only afterwards
        # keeps the writer's seal from running after the release (which made this test flaky).
        writer.join(5)
        finished_while_locked = not writer.is_alive()
        seen_while_locked = AccessEvent.objects.filter(sequence__isnull=True).count()
        release.set()
        writer.join(10)
        return finished_while_locked, seen_while_locked

    def record_in_transaction():
        with transaction.atomic():
            record(cast.practice, AccessEvent.Action.STAFF_SIGNED_IN, actor=Actor.staff(cast.alice))

    assert at_once(hold_the_practice, write_then_see_it_committed) == [None, (True, 1)]
    assert unsealed_count(cast.practice) == 1  # this holder does not seal: the next seal does
    assert seal(cast.practice) == 1
    assert first_broken_event(cast.practice) is None


@postgres_only
@pytest.mark.django_db(transaction=True)
def test_invitations_to_different_patients_at_the_same_moment_keep_the_chain(cast):
    patients = [Patient.objects.create(practice=cast.practice, chart_number=f"C-{n}", first_name="C", last_name="C",
                                       email=f"c{n}@example.test", ssn=f"1234{n + 1:05d}") for n in range(12)]
    sends = [lambda p=p: sending.send_invitation(p, by=cast.alice, channel="chart") for p in patients]
    assert not [o for o in at_once(*sends) if isinstance(o, Exception)]
    assert AccessEvent.objects.filter(practice=cast.practice, action="invitation.sent").count() == 12
    assert unsealed_count(cast.practice) == 0
    assert first_broken_event(cast.practice) is None


def test_an_event_given_a_time_in_another_zone_seals_and_verifies(cast, django_capture_on_commit_callbacks):
    """The entry seal covers the time; the database gives it back in UTC, so it is kept in UTC."""
    eastern = datetime.datetime(2026, 11, 2, 10, 0, tzinfo=cast.practice.tzinfo)
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        append([new_event(cast.practice, AccessEvent.Action.SETTINGS_CHANGED, actor=Actor.system(), at=eastern)])
    event = AccessEvent.objects.get()
    assert event.at == eastern and event.sequence is not None
    assert first_broken_event(cast.practice) is None


def test_seals_are_the_hmac_of_the_sorted_json_of_the_content_byte_for_byte():
    """The sealer's faster encoding (one C encoder made once, a keyed HMAC copied per seal, each moment
    written out once) must give exactly the seal of its definition, or stored chains stop verifying."""
    utc = datetime.datetime(2026, 11, 2, 15, 0, 0, 5, tzinfo=datetime.UTC)
    same_instant_elsewhere = utc.astimezone(datetime.timezone(datetime.timedelta(hours=-5)))
    values = [
        {"patient_id": None, "reason": "", "client_ip": None},
        {"patient_id": 7, "reason": 'Quote " and \\ and ñ, 名前 \U0001f600', "client_ip": "2001:db8::1"},
        {"patient_id": 2**40, "reason": "x" * 200, "user_agent": "Mozilla/5.0\n\t", "proxy_id": 3},
        {"at": same_instant_elsewhere, "outcome": "failure", "actor_id": None, "invitation_id": 0},
        {"at": utc.replace(microsecond=0), "action": AccessEvent.Action.INVITATION_SENT},  # a str enum member
    ]
    secret = "k" * 40
    for changes in values:
        event = {"practice_id": 1, "patient_id": 2, "invitation_id": 3, "at": utc, "actor_kind": "staff",
                 "actor_id": 4, "actor_role": "admin", "action": "invitation.sent", "channel": "bulk",
                 "outcome": "success", "reason": "Bulk invitation 9", "client_ip": "203.0.113.9", "user_agent": "",
                 "prev_hash": "a" * 64, "key_id": "k1", "proxy_id": None, **changes}
        content = {name: event[name] for name in HASHED_FIELDS}
        content["at"] = event["at"].isoformat(timespec="microseconds")
        if event["proxy_id"] is not None:
            content["proxy_id"] = event["proxy_id"]
        expected = hmac.new(secret.encode(), json.dumps(content, sort_keys=True, default=str).encode(),
                            hashlib.sha256).hexdigest()
        assert event_hash(event, secret) == expected
        del content["prev_hash"]
        assert entry_hash(event, secret) == hmac.new(secret.encode(), json.dumps(
            {**content, "unsealed": True}, sort_keys=True, default=str).encode(), hashlib.sha256).hexdigest()
    # One instant in two zones is written apart (its offset is part of what is sealed).
    assert event_hash({**event, "at": utc}, secret) != event_hash({**event, "at": same_instant_elsewhere}, secret)
