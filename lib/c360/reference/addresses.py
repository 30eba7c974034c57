"""Street-type abbreviations (Straße/Str., Street/St ...): the generator abbreviates with them, address
standardisation expands them back, so both sides agree on one table."""

from __future__ import annotations

import re

STREET_ABBREVIATIONS: dict[str, str] = {
    "straße": "str.", "strasse": "str.", "platz": "pl.", "weg": "wg.", "allee": "al.",
    "street": "st", "road": "rd", "avenue": "ave", "drive": "dr", "lane": "ln", "court": "ct",
    "place": "pl", "square": "sq", "boulevard": "blvd", "terrace": "ter", "crescent": "cres",
    "creek": "crk", "village": "vlg", "mountain": "mtn", "heights": "hts", "springs": "spgs",
    "gardens": "gdns", "station": "sta", "parkway": "pkwy", "highway": "hwy", "mount": "mt",
    "point": "pt", "port": "prt", "valley": "vly", "view": "vw", "ways": "ways", "way": "wy",
    "ridge": "rdg", "river": "riv", "island": "is", "lake": "lk", "hill": "hl", "hills": "hls",
    "junction": "jct", "meadows": "mdws", "mills": "mls", "fort": "ft", "estates": "ests",
}
_SUFFIX = re.compile(r"(straße|strasse|platz|allee|weg)$", re.IGNORECASE)


def abbreviate_street(street: str) -> str:
    """The abbreviated form a clerk would type: 'Hauptstraße' -> 'Hauptstr.', 'Wilson Creek' -> 'Wilson Crk'."""
    words = street.split(" ")
    last = words[-1]
    match = _SUFFIX.search(last)
    if match:
        short = STREET_ABBREVIATIONS[match.group(1).lower()]
        words[-1] = last[: match.start()] + (short.capitalize() if match.start() == 0 else short)
    elif last.lower() in STREET_ABBREVIATIONS:
        words[-1] = STREET_ABBREVIATIONS[last.lower()].capitalize()
    return " ".join(words)
