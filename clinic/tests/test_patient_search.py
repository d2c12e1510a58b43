"""The patient search through its index (SQLite's FTS5 trigram table, PostgreSQL's pg_trgm indexes)
finds exactly what the plain condition finds, and the index follows every write."""

import datetime
import io

import pytest

from clinic import importing, selectors, services
from clinic.models import Patient

# Names, addresses, chart numbers and phones chosen to cross the search's edges: prefixes and
# substrings, case, accents, short words, characters LIKE would read as wildcards, digits alone.
PEOPLE = [
    ("Z-100", "Ada", "Lovelace", "ada.lovelace@example.test", "+12125550100"),
    ("Z-1001", "Adam", "Lovell", "ADAM@Example.test", "+12125551001"),
    ("Z-2002", "Li", "Wu", "li_wu@example.test", ""),
    ("Z-2003", "Émile", "Zola", "emile%zola@example.test", "+33142685300"),
    ("Z-3003", "Zoë", "O'Brien-Smith", "", "+16465550199"),
    ("zq-77", "Mary Ann", "de la Cruz", "mac@example.test", "+14155550142"),
]
QUERIES = [
    "Ada", "ada", "ADA LOVE", "love", "Lovel", "lace", "Li", "L", "Wu", "li_", "_wu", "li%", "%zola", "Émile",
    "émile", "Zoë", "zoe", "O'Brien", "brien-smith", "Mary Ann", "Ann de", "de la", "la Cruz", "Cruz, Mary",
    "example", "Example.TEST", "@example", "ADAM@", "Z-100", "z-100", "100", "1001", "2003", "300", "77", "zq-77",
    "(212) 555-0100", "212-555-0100", "5550100", "2125551001", "+1 646 555 0199", "0199", "555", "01 42 68 53 00",
    "33142685300", "nobody", "x", '"', "a b c", "Ada Lovelace Smith",
]


@pytest.fixture
def people(cast):
    for chart, first, last, email, phone in PEOPLE:
        Patient.objects.create(practice=cast.practice, chart_number=chart, first_name=first, last_name=last,
                               email=email, phone=phone)
    # The same names at the other practice: never found from this one.
    Patient.objects.create(practice=cast.other_practice, chart_number="Z-100", first_name="Ada",
                           last_name="Lovelace", email="ada.lovelace@example.test", phone="+12125550100")
    return cast


def found(cast, q: str) -> list[str]:
    return sorted(selectors.matching_patients(cast.alice, q).values_list("chart_number", flat=True))


def plainly_found(cast, q: str) -> list[str]:
    """The condition alone, read over every patient of the practice (the search before its index)."""
    q = " ".join(q.split())
    return sorted(Patient.objects.filter(selectors._search_condition(q), practice=cast.practice)
                  .values_list("chart_number", flat=True))


@pytest.mark.parametrize("q", QUERIES)
def test_the_index_finds_what_the_plain_search_finds(people, q):
    assert found(people, q) == plainly_found(people, q)


@pytest.mark.parametrize(("q", "charts"), [
    ("lovel", ["Z-100", "Z-1001"]), ("ADA LOVE", ["Z-100", "Z-1001"]), ("Ada Lovelace", ["Z-100"]),
    ("100", ["A-100", "Z-100"]), ("1001", ["Z-1001"]), ("li_", ["Z-2002"]), ("%zola", ["Z-2003"]),
    ("(212) 555-0100", ["Z-100"]), ("0199", []), ("Mary, de", ["zq-77"]), ("Cruz", []), ("Li", ["Z-2002"]),
])
def test_it_finds_names_by_prefix_and_the_rest_by_substring_as_before(people, q, charts):
    assert found(people, q) == charts


def test_the_index_follows_creates_changes_and_deletes(cast):
    patient = services.create_patient(cast.practice, by=cast.alice, chart_number="Q-1", first_name="Grace",
                                      last_name="Hopper")
    assert found(cast, "Hopper") == ["Q-1"]
    services.update_patient(patient, by=cast.alice, last_name="Murray", email="grace@navy.test")
    assert (found(cast, "Hopper"), found(cast, "Murray"), found(cast, "navy")) == ([], ["Q-1"], ["Q-1"])
    patient.delete()
    assert found(cast, "Murray") == []


def test_the_index_follows_an_import(cast, monkeypatch):
    header = "chart_number,first_name,last_name,email,ssn,date_of_birth,phone,doctor\n"
    importing.import_patients(cast.practice, io.StringIO(header + "Q-2,Katherine,Johnson,,,,,\n"))
    assert found(cast, "Johnson") == ["Q-2"]
    importing.import_patients(cast.practice, io.StringIO(header + "Q-2,Katherine,Goble,,,,(757) 555-0123,\n"))
    assert (found(cast, "Johnson"), found(cast, "Goble"), found(cast, "757 555 0123")) == ([], ["Q-2"], ["Q-2"])


def test_a_patient_made_in_bulk_is_found(cast):
    Patient.objects.bulk_create([Patient(practice=cast.practice, chart_number=f"R-{i}", first_name="Rosalind",
                                         last_name=f"Franklin{i}", date_of_birth=datetime.date(1920, 7, 25))
                                 for i in range(3)])
    assert found(cast, "Franklin") == ["R-0", "R-1", "R-2"]
