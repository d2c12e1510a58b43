"""The Reports page's tables, built once from access.reports and shown two ways: as HTML tables on the
page and as CSV downloads (portico.spreadsheet.SafeWriter), so a download always equals the page."""

import datetime
from dataclasses import dataclass, field
from typing import TextIO

from django.utils.translation import gettext, gettext_noop

from access import reports
from access.reports import MISS_LABELS, Period, Scope
from portico.spreadsheet import SafeWriter


@dataclass(frozen=True)
class Table:
    key: str  # its CSV's name: /reports/<key>.csv
    title: str
    headers: list[str]
    rows: list[list[str]] = field(default_factory=list)
    more: list[str] = field(default_factory=list)  # lines saying what only the CSV lists (the missed patients)

    def write_csv(self, out: TextIO) -> None:
        writer = SafeWriter(out)
        writer.writerow(self.headers)
        writer.writerows(self.rows)


TABLES = ["funnel", "stops", "channels", "ages", "languages", "doctors", "connected", "measure", "missed"]


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:g}%"


def day(value: datetime.date) -> str:
    return f"{value:%-d %b %Y}"


@dataclass
class Report:
    """Everything the page shows for one scope and period (about a dozen queries)."""

    scope: Scope
    period: Period
    patients: int
    stages: list[reports.Stage]
    connected: list[tuple[datetime.date, int]]
    tables: dict[str, Table]
    measure: list[reports.ClinicianMeasure]


MISSED_TITLE = gettext_noop("Patients in the denominator not in the numerator")
MISSED_HEADERS = [gettext_noop("Clinician"), gettext_noop("Chart"), gettext_noop("Patient"), gettext_noop("Last visit"),
                  gettext_noop("Window closes"), gettext_noop("Why")]


def missed_headers() -> list[str]:
    return [gettext(header) for header in MISSED_HEADERS]


def missed_row(clinician: str, p: reports.Missed, tz: datetime.tzinfo) -> list[str]:
    return [clinician, p.chart_number, p.name, day(p.last_visit.astimezone(tz).date()),
            day((p.closes.astimezone(tz) - datetime.timedelta(days=1)).date()), p.reason_label]


class _Lines(list):
    """What csv.writer writes into: the lines kept until the next chunk is handed out."""

    def write(self, text: str) -> None:
        self.append(text)


def stream_missed(scope: Scope, period: Period):
    """The missed table's CSV, every patient (the page shows the first MISSED_SHOWN per clinician), in
    the page's order, a chunk at a time (for a StreamingHttpResponse): the clinicians by name as on
    the page, each one's patients as measure() orders them."""
    with reports.planned_without_jit():
        names = dict(reports.clinicians_seen(scope, period))
        tz, lines = scope.practice.tzinfo, _Lines()
        writer = SafeWriter(lines)
        writer.writerow(missed_headers())
        for n, p in enumerate(reports.missed_patients(scope, period, list(names)), 1):
            writer.writerow(missed_row(names[p.doctor_id], p, tz))
            if n % 2000 == 0:
                yield "".join(lines)
                lines.clear()
        yield "".join(lines)


def build(scope: Scope, period: Period, *, with_doctors: bool) -> Report:
    with reports.planned_without_jit():
        return _build(scope, period, with_doctors=with_doctors)


def _build(scope: Scope, period: Period, *, with_doctors: bool) -> Report:
    counted = reports.adoption(scope, period)  # the funnel and its splits, read once
    patients, stages = reports.funnel(scope, period, counted=counted)
    connected = reports.connected_over_time(scope, period)
    measure = reports.measure(scope, period)
    tz = scope.practice.tzinfo
    tables = {
        "funnel": Table("funnel", gettext("The funnel"), [gettext("Stage"), gettext("Patients"), gettext("Percentage")],
                        [[s.label, str(s.count), percent(s.percent)] for s in stages]),
        "stops": Table("stops", gettext("Where invited patients stopped"), [gettext("Where they stopped"),
                                                                           gettext("Patients")],
                       [[label, str(n)] for _, label, n in reports.stops(scope, period)]),
        "channels": Table("channels", gettext("By channel"),
                          [gettext("Channel"), gettext("Invited"), gettext("Link opened"), gettext("Identity confirmed"),
                           gettext("Connected")],
                          [[row.label, str(row.invited), str(row.opened), str(row.confirmed), str(row.connected)]
                           for row in reports.by_channel(scope, period)]),
        "ages": Table("ages", gettext("By age band (age on the last day)"),
                      [gettext("Age band"), gettext("Patients"), gettext("Eligible"), gettext("Invited"),
                       gettext("Link opened"), gettext("Identity confirmed"), gettext("Connected")],
                      [[row.band, *(str(n) for n in (row.patients, row.eligible, row.invited, row.opened, row.confirmed,
                                                     row.connected))] for row in reports.by_age(scope, period, counted=counted)]),
        "languages": Table("languages", gettext("By preferred language"),
                           [gettext("Language"), gettext("Patients"), gettext("Eligible"), gettext("Never offered"),
                            gettext("Invited"), gettext("Connected")],
                           [[row.name, *(str(n) for n in (row.patients, row.eligible, row.never_offered, row.invited,
                                                         row.connected))]
                            for row in reports.by_language(scope, period, counted=counted)]),
        "connected": Table("connected", gettext("Connected patients over time"),
                           [gettext("Date"), gettext("Connected patients")],
                           [[day(d), str(n)] for d, n in connected]),
        "measure": Table("measure", gettext("Electronic access within 4 business days (PI_PEA_1), per clinician"),
                         [gettext("Clinician"), gettext("Numerator"), gettext("Denominator"), gettext("Percentage"),
                          *(str(label) for label in MISS_LABELS.values())],
                         [[m.name, str(m.numerator), str(m.denominator), percent(m.percent),
                           *(str(m.missed_by_reason.get(key, 0)) for key in MISS_LABELS)] for m in measure]),
        "missed": Table("missed", gettext(MISSED_TITLE), missed_headers(),
                        [missed_row(m.name, p, tz) for m in measure for p in m.missed],
                        [gettext("%(name)s: %(count)s more not shown") % {"name": m.name, "count": f"{m.missed_not_shown:,}"}
                         for m in measure if m.missed_not_shown]),
    }
    if with_doctors:
        tables["doctors"] = Table("doctors", gettext("By doctor (the patient's doctor on file)"),
                                  [gettext("Doctor"), gettext("Patients"), gettext("Eligible"), gettext("Invited"),
                                   gettext("Connected"), gettext("Never offered")],
                                  [[r.name, str(r.patients), str(r.eligible), str(r.invited), str(r.connected),
                                    str(r.never_offered)] for r in reports.by_doctor(scope, period, counted=counted)])
    return Report(scope, period, patients, stages, connected, tables, measure)

