import datetime

from django.utils import timezone

from sms.models import TextMessage


def queue_text(to: str = "+15555550123", *, practice_id: int = 1, body: str = "Hello from the clinic",
               kind: str = TextMessage.Kind.HELP, at: datetime.datetime | None = None, **fields) -> TextMessage:
    now = at or timezone.now()
    return TextMessage.objects.create(kind=kind, practice_id=practice_id, to=to, body=body, next_attempt_at=now,
                                      created_at=now, dedupe_key=f"test:{to}:{now.timestamp()}:{body}", **fields)
