"""How many SMS segments a text takes (3GPP TS 23.038): in the GSM 7-bit alphabet, 160 septets alone
or 153 per part of a longer text, a character of the extension table ({ } [ ] ~ \\ | ^ € and form feed)
taking two; any other character makes the whole text UCS-2: 70 UTF-16 units alone or 67 per part (a
character outside the BMP, an emoji, takes two, and is never split across parts)."""

import unicodedata

GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")
SINGLE = {"GSM-7": 160, "UCS-2": 70}
PART = {"GSM-7": 153, "UCS-2": 67}


def encoding(text: str) -> str:
    return "GSM-7" if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text) else "UCS-2"


def _units(text: str, encoding_: str) -> list[int]:
    """What each character takes: septets in GSM-7, UTF-16 code units in UCS-2."""
    if encoding_ == "GSM-7":
        return [2 if ch in GSM7_EXTENSION else 1 for ch in text]
    return [2 if ord(ch) > 0xFFFF else 1 for ch in text]


def count(text: str) -> int:
    """The number of segments `text` is sent in (0 for an empty text)."""
    enc = encoding(text)
    units = _units(text, enc)
    if sum(units) <= SINGLE[enc]:
        return 1 if text else 0
    parts, used = 1, 0
    for unit in units:  # a character never straddles two parts
        if used + unit > PART[enc]:
            parts, used = parts + 1, 0
        used += unit
    return parts


def to_gsm7(text: str) -> str:
    """The text with each character outside GSM-7 that is a letter with an accent written without it
    (á -> a, í -> i, ó -> o, ú -> u: Spanish keeps é, ñ, ü, ¿ and ¡, which GSM-7 has), so a text is not
    sent in UCS-2, at less than half the length, for a few accents. Other characters are left as they are."""
    out = []
    for ch in text:
        if ch in GSM7_BASIC or ch in GSM7_EXTENSION:
            out.append(ch)
            continue
        bare = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(bare if bare and all(c in GSM7_BASIC for c in bare) else ch)
    return "".join(out)


def gsm7_only(text: str) -> str:
    """to_gsm7(text) without the characters GSM-7 still cannot say (an emoji, another script): for a
    name that must fit in a text whose own words are GSM-7."""
    return "".join(ch for ch in to_gsm7(text) if ch in GSM7_BASIC or ch in GSM7_EXTENSION)
