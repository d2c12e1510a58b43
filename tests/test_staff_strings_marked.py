"""Every string a person reads on a staff page is marked for translation (issue 22: staff pages stay
in English, but are ready for a translation). Each staff template is lexed with Django's own template
Lexer; what is left outside {% translate %} / {% blocktranslate %} (and template tags, variables and
comments) is read as HTML, and a text node or a read attribute (aria-label, title, placeholder, alt, data-label, a
an input button's value) with a letter in it is a string someone forgot to mark. Literal words passed to a
template (`default:"None"`, `with label="Pages"`) must be marked too (`_("None")`).
Strings in Python are marked with gettext; the catalog test (portal/tests/test_catalogs.py) runs
makemessages over the staff apps too."""

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.template.base import Lexer, TokenType

ROOT = Path(settings.BASE_DIR)
# The pages staff see (the Mailbox and the Phone page are in clinic/templates too). Patient pages and
# emails are checked in Spanish instead (portal/tests/test_spanish_pages.py, test_spanish_emails.py).
STAFF_TEMPLATES = sorted([*ROOT.glob("clinic/templates/**/*.html"), *ROOT.glob("api/templates/**/*.html"),
                          *ROOT.glob("templates/**/*.html")])
READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt", "data-label")  # data-label: shown by CSS
# Names nobody translates.
PROPER_NAMES = re.compile(r"\bPortico\b")
LETTER = re.compile(r"[^\W\d_]")
# Literal words handed to a template filter or an include, which a reader then sees.
LITERAL_ARGUMENT = re.compile(r"""(?:\b(?:default|default_if_none|pluralize|yesno):|(?:^|\s)\w+=)(["'])(.*?)\1""")
SKIPPED_TAGS = {"comment": "endcomment", "blocktranslate": "endblocktranslate", "blocktrans": "endblocktrans"}
PLACEHOLDER = "\x00"  # where a tag or a variable was: no letters, so never reported


def unmarked(source: str) -> list[str]:
    """The pieces of a template's text that a reader sees and that are not marked for translation."""
    kept, found, closing = [], [], None
    for token in Lexer(source).tokenize():
        if closing:
            closing = None if token.token_type == TokenType.BLOCK and token.contents.split()[0] == closing else closing
            continue
        if token.token_type == TokenType.TEXT:
            kept.append(token.contents)
            continue
        if token.token_type in (TokenType.BLOCK, TokenType.VAR):
            found += _literal_words(token.contents)
        if token.token_type == TokenType.BLOCK:
            closing = SKIPPED_TAGS.get(token.contents.split()[0])
        kept.append(PLACEHOLDER)
    reader = _ReadText()
    reader.feed("".join(kept))
    reader.close()
    return found + [text for text in reader.texts if LETTER.search(PROPER_NAMES.sub("", text))]


def _literal_words(contents: str) -> list[str]:
    if contents.split()[0] in ("include", "extends", "url", "querystring", "translate", "trans", "partialdef"):
        contents = contents.split(" with ", 1)[1] if " with " in contents else ""
    return [f"{quote}{text}{quote}" for quote, text in LITERAL_ARGUMENT.findall(contents) if LETTER.search(text)]


class _ReadText(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.texts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skipping += 1
        attributes = dict(attrs)
        self.texts += [_clean(attributes[name]) for name in READ_ATTRIBUTES if attributes.get(name)]
        if tag == "input" and attributes.get("type") in ("submit", "button", "reset") and attributes.get("value"):
            self.texts.append(_clean(attributes["value"]))

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip(PLACEHOLDER + " \n\t"):
            self.texts.append(_clean(data))


def _clean(text: str) -> str:
    return " ".join(text.replace(PLACEHOLDER, " … ").split())


@pytest.mark.parametrize("path", STAFF_TEMPLATES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_string_on_a_staff_page_is_marked_for_translation(path):
    found = unmarked(path.read_text())
    assert found == [], f"{path.relative_to(ROOT)} has text not marked for translation: {found}"


def test_the_check_finds_unmarked_text_attributes_and_literals():
    """The check above can fail: each kind of slip is found, and marked text is not."""
    template = """{% load i18n %}<h1>Patients</h1><p>{% translate "Marked" %} · {{ count }}</p>
    <a href="{% url 'clinic:x' 'a' %}" aria-label="Open chart">{% blocktranslate trimmed %}Also
    marked {{ name }}{% endblocktranslate %}</a><input type="submit" value="Save">
    {{ email|default:"Not on file" }}{{ email|default:_("Marked") }}{% include "x.html" with label="Pages" %}
    {% comment %}A note for developers{% endcomment %}{# another #}<span>Portico</span><p>{{ a|date:"j M Y" }} – 12</p>"""
    assert unmarked(template) == ['"Not on file"', '"Pages"', "Patients", "Open chart", "Save"]
