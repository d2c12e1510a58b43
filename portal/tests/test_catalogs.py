"""The translation catalogs: every marked string is in them (makemessages finds no msgid the catalogs
lack), every msgid a patient reads has a Spanish translation that is not fuzzy and keeps its
placeholders, and each committed .mo says exactly what its .po says (a .po edited without
compilemessages fails).

Staff pages stay in English: their msgids are in the catalogs, ready for a translation, and may be
left untranslated. Which is which is read from where each msgid is used, its `#:` references
(docs/languages.md, "Staff strings"): a msgid is the staff's when every place it is used is a staff
source; used in any patient source, a patient reads it."""

import re
import shutil
from pathlib import Path

import polib
import pytest
from django.conf import settings
from django.core.management import call_command

ROOT = Path(settings.BASE_DIR)
CATALOGS = sorted(ROOT.glob("*/locale/*/LC_MESSAGES/django.po")) + sorted(ROOT.glob("locale/*/LC_MESSAGES/django.po"))
# What makemessages reads: the apps with catalogs, the shared templates and the portico package.
SOURCES = ("portal", "mail", "access", "clinic", "api", "sms", "templates", "portico", "locale")
# Sources only staff read (a path, or a folder ending in "/")...
STAFF_SOURCES = ("clinic/", "api/", "sms/models.py", "mail/models.py", "access/", "templates/staff_base.html",
                 "templates/registration/")
# ...but for these, which patients read: the printed letter (handed to the patient, in their language),
# the field checks the patient's forms share, and the refusals of sign-in.
PATIENT_SOURCES = ("clinic/validation.py", "clinic/templates/clinic/_letter.html", "clinic/views/letters.py",
                   "access/signins.py")
# Modules holding both: an entry of theirs is the patient's when its translator comment says so.
MIXED_SOURCES = ("access/errors.py", "access/models.py")
PATIENTS_READ = "Translators: patients read this."
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def read_by_patients(entry: polib.POEntry) -> bool:
    """Whether a patient reads this msgid somewhere (so it needs its Spanish), from its references."""
    return any(_patient_source(path, entry) for path, _line in entry.occurrences)


def _patient_source(path: str, entry: polib.POEntry) -> bool:
    if path.startswith(PATIENT_SOURCES):
        return True
    if path in MIXED_SOURCES:
        return PATIENTS_READ in entry.comment
    return not path.startswith(STAFF_SOURCES)


def untranslated_for_patients(catalog: polib.POFile) -> list[str]:
    return [e.msgid for e in catalog.untranslated_entries() if read_by_patients(e)]


def test_there_is_a_spanish_catalog_for_each_app_with_words():
    assert {_name(p).split("/")[0] for p in CATALOGS} == {"portal", "mail", "access", "clinic", "api", "sms", "locale"}
    assert {p.parent.parent.name for p in CATALOGS} == {"es"}


def test_the_staff_and_patient_msgids_are_told_apart_by_where_they_are_used():
    def entry(*occurrences, comment=""):
        return polib.POEntry(msgid="x", occurrences=[(path, "1") for path in occurrences], comment=comment)

    assert not read_by_patients(entry("clinic/templates/clinic/chart.html", "templates/staff_base.html"))
    assert not read_by_patients(entry("access/errors.py"))  # a staff refusal
    assert not read_by_patients(entry("access/models.py", "api/templates/api/tokens.html"))
    assert read_by_patients(entry("access/errors.py", comment=PATIENTS_READ))
    assert read_by_patients(entry("clinic/templates/clinic/_letter.html"))
    assert not read_by_patients(entry("clinic/templates/clinic/invitation_letter.html"))  # the staff page around it
    assert read_by_patients(entry("clinic/validation.py", "clinic/forms.py"))
    assert read_by_patients(entry("clinic/forms.py", "portal/templates/portal/login.html"))  # patients too
    assert read_by_patients(entry("templates/404.html")) and read_by_patients(entry("newapp/views.py"))


@pytest.mark.parametrize("path", CATALOGS, ids=_name)
def test_every_patient_entry_is_translated_none_fuzzy_and_placeholders_kept(path):
    catalog = polib.pofile(str(path))
    assert catalog.metadata.get("Plural-Forms") == "nplurals=2; plural=(n != 1);"
    assert [e.msgid for e in catalog.fuzzy_entries()] == []
    assert untranslated_for_patients(catalog) == []
    assert [e.msgid for e in catalog.obsolete_entries()] == []
    for entry in catalog.translated_entries():
        translations = entry.msgstr_plural.values() if entry.msgid_plural else [entry.msgstr]
        for translation in translations:
            assert sorted(set(PLACEHOLDER.findall(translation))) == sorted(set(PLACEHOLDER.findall(entry.msgid))), \
                entry.msgid


@pytest.mark.parametrize("path", CATALOGS, ids=_name)
def test_the_committed_mo_says_what_the_po_says(path):
    """The .mo files are committed (a fresh clone needs no gettext to run); one not compiled again after
    its .po changed fails here. Run `manage.py compilemessages` (docs/languages.md)."""
    compiled = path.with_suffix(".mo")
    assert compiled.exists(), f"{_name(compiled)} is missing: run manage.py compilemessages"
    compiled_entries = [e for e in polib.mofile(str(compiled)) if e.msgid]  # msgfmt leaves out fuzzy and empty ones
    assert _translations(compiled_entries) == _translations(polib.pofile(str(path)).translated_entries()), \
        f"{_name(compiled)} is stale: run manage.py compilemessages"


def _translations(entries) -> dict:
    return {(e.msgctxt, e.msgid, e.msgid_plural or ""):
            ({int(n): text for n, text in e.msgstr_plural.items()} if e.msgid_plural else e.msgstr) for e in entries}


@pytest.mark.skipif(shutil.which("xgettext") is None, reason="needs GNU gettext's xgettext (.ci/run installs it)")
def test_makemessages_finds_no_string_the_catalogs_lack(tmp_path, settings, monkeypatch):
    """A newly marked string without a catalog entry fails here; an unmarked one fails the Spanish
    page and email walks (test_spanish_pages, test_spanish_emails), or on a staff page
    tests/test_staff_strings_marked.py. makemessages runs on a copy."""
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["es"], no_obsolete=True, verbosity=0)
    for committed in CATALOGS:
        fresh = polib.pofile(str(tmp_path / committed.relative_to(ROOT)))
        missing = {e.msgid for e in fresh} - {e.msgid for e in polib.pofile(str(committed))}
        assert missing == set(), f"{_name(committed)} lacks {sorted(missing)}: run makemessages (docs/languages.md)"
        untranslated = untranslated_for_patients(fresh) + [e.msgid for e in fresh.fuzzy_entries()]
        assert untranslated == [], f"{_name(committed)}: {untranslated}"
