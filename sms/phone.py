"""Read what the provider's stand-in took (sms.standin appends one JSON line per text) for the
development Phone page: only texts whose provider sid the reader's practice holds."""

import datetime
import json
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from pathlib import Path


@dataclass(frozen=True)
class CaughtText:
    sid: str
    to: str
    body: str
    date: datetime.datetime | None


def caught_texts(log: Path, sids: set[str]) -> list[CaughtText]:
    """The texts in the stand-in's log whose sid is in `sids`, newest first."""
    try:
        lines = log.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        return []
    found = []
    for line in lines:
        try:
            text = json.loads(line)
        except ValueError:  # a line cut short by a stopped stand-in
            continue
        if text.get("sid") in sids:
            found.append(CaughtText(sid=text["sid"], to=text["to"], body=text["body"], date=_date(text)))
    return found[::-1]


def _date(text: dict) -> datetime.datetime | None:
    try:
        return parsedate_to_datetime(text.get("date_created") or "")
    except (TypeError, ValueError):
        return None
