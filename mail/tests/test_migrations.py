"""mail's data migrations, run by Django's migration executor on the test database (SQLite, or
PostgreSQL under scripts/with-postgres), forwards and back."""

import datetime
import importlib

import pytest

BEFORE = [("mail", "0003_message_skipped")]
AFTER = [("mail", "0004_message_invitation_id")]
INVITATION_ID = importlib.import_module("mail.migrations.0004_message_invitation_id")
NOW = datetime.datetime(2026, 11, 2, 15, 0, tzinfo=datetime.UTC)


def old_row(Message, n: int, kind: str, context: dict):
    return Message(kind=kind, to=f"p{n}@example.test", dedupe_key=f"{kind}:{n}", context=context,
                   next_attempt_at=NOW, created_at=NOW)


@pytest.mark.django_db(transaction=True)
def test_0004_moves_the_invitation_id_out_of_context_into_its_column_in_batches_and_back(migrate, monkeypatch):
    monkeypatch.setattr(INVITATION_ID, "BATCH", 2)  # 5 rows with the key: three batches
    Message = migrate(BEFORE).get_model("mail", "Message")
    practice = {"practice": "O'Brien & Sons", "expires": "Monday, November 9 at 10:00 AM Eastern"}
    written = {
        **{f"invitation:{n}": old_row(Message, n, "invitation", {**practice, "invitation_id": 100 + n}) for n in range(4)},
        "reminder:7": old_row(Message, 7, "reminder", {**practice, "invitation_id": 107}),
        "connected:8": old_row(Message, 8, "connected", {"practice": "O'Brien & Sons", "portal_url": "https://x.test/"}),
        "digest:9": old_row(Message, 9, "digest", {"practice": "O'Brien & Sons", "count": 0, "items": []}),
    }
    Message.objects.bulk_create(written.values())
    before = dict(Message.objects.values_list("dedupe_key", "context"))

    Message = migrate(AFTER).get_model("mail", "Message")
    after = {key: (invitation_id, context) for key, invitation_id, context
             in Message.objects.values_list("dedupe_key", "invitation_id", "context")}
    assert after == {
        **{f"invitation:{n}": (100 + n, practice) for n in range(4)},
        "reminder:7": (107, practice),
        "connected:8": (None, before["connected:8"]),
        "digest:9": (None, before["digest:9"]),
    }

    Message = migrate(BEFORE).get_model("mail", "Message")
    assert dict(Message.objects.values_list("dedupe_key", "context")) == before
