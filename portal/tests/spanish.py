"""What a Spanish page or email must not contain: English. A text left unmarked for translation, or
marked but not translated, reaches a Spanish reader in English; these helpers find it.

A piece of text (a text node, or an attribute people read: aria-label, title, placeholder, alt) is
English when it has a word only English uses (the, your, please...). Names, addresses and numbers
from the test data have none of these, so anything found is a string Portico wrote."""

import re
from html.parser import HTMLParser

# Common English words that are not Spanish words (so "a", "no", "me", "con" are left out).
ENGLISH_WORDS = frozenset("""
the your you and is are this that with for please sign not has have will link password invitation
practice account date birth confirm continue back here our we it its was were been be an at by from
on or if to of new enter email choose again already request send sent check phone number
security go my only more tries try wrong answer identity code details file records patient
""".split())
_WORD = re.compile(r"[A-Za-zÁÉÍÓÚÑÜáéíóúñü]+")
READ_ATTRIBUTES = ("aria-label", "title", "placeholder", "alt")
# Words of our test data that happen to be English words (practice and people's names, addresses).
DATA_WORDS = frozenset({"maple", "street", "clinic", "example", "test", "pat", "jones", "harbor", "health"})


def english_words(text: str) -> set[str]:
    return {w for w in (m.lower() for m in _WORD.findall(text)) if w in ENGLISH_WORDS and w not in DATA_WORDS}


def english_left(document: str) -> list[str]:
    """The pieces of a page (or an email's HTML or text part) that are in English."""
    if "<" not in document:
        return [line for line in document.splitlines() if english_words(_without_links(line))]
    reader = _Texts()
    reader.feed(document)
    return [text for text in reader.texts if english_words(_without_links(text))]


def _without_links(text: str) -> str:
    return re.sub(r"\S+@\S+|https?://\S+", " ", text)


class _Texts(HTMLParser):
    def __init__(self):
        super().__init__()
        self.texts: list[str] = []
        self.skipping = 0

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style"):
            self.skipping += 1
        attributes = dict(attrs)
        self.texts += [attributes[name] for name in READ_ATTRIBUTES if attributes.get(name)]
        if tag in ("input", "button") and attributes.get("type") in ("submit", "button") and attributes.get("value"):
            self.texts.append(attributes["value"])

    def handle_endtag(self, tag):
        if tag in ("script", "style"):
            self.skipping -= 1

    def handle_data(self, data):
        if not self.skipping and data.strip():
            self.texts.append(" ".join(data.split()))
