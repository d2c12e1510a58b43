"""The translation catalogs: every patient-facing string is marked (makemessages finds no msgid the
catalogs lack), every msgid has a Spanish translation that is not fuzzy and keeps its placeholders,
and each committed .mo says exactly what its .po says (a .po edited without compilemessages fails)."""

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
SOURCES = ("portal", "mail", "access", "clinic", "templates", "portico", "locale")
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|\{\w+\}")


def _name(path: Path) -> str:
    return str(path.relative_to(ROOT))


def test_there_is_a_spanish_catalog_for_each_part_that_speaks_to_patients():
    assert {_name(p).split("/")[0] for p in CATALOGS} == {"portal", "mail", "access", "clinic", "locale"}
    assert {p.parent.parent.name for p in CATALOGS} == {"es"}


@pytest.mark.parametrize("path", CATALOGS, ids=_name)
def test_every_entry_is_translated_not_fuzzy_and_keeps_its_placeholders(path):
    catalog = polib.pofile(str(path))
    assert catalog.metadata.get("Plural-Forms") == "nplurals=2; plural=(n != 1);"
    assert [e.msgid for e in catalog.fuzzy_entries()] == []
    assert [e.msgid for e in catalog.untranslated_entries()] == []
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
    page and email walks (test_spanish_pages, test_spanish_emails). makemessages runs on a copy."""
    for name in SOURCES:
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    settings.LOCALE_PATHS = [tmp_path / "locale"]
    monkeypatch.chdir(tmp_path)
    call_command("makemessages", locale=["es"], no_obsolete=True, verbosity=0)
    for committed in CATALOGS:
        fresh = polib.pofile(str(tmp_path / committed.relative_to(ROOT)))
        missing = {e.msgid for e in fresh} - {e.msgid for e in polib.pofile(str(committed))}
        assert missing == set(), f"{_name(committed)} lacks {sorted(missing)}: run makemessages (docs/languages.md)"
        untranslated = [e.msgid for e in fresh.untranslated_entries() + fresh.fuzzy_entries()]
        assert untranslated == [], f"{_name(committed)}: {untranslated}"
