"""The Simplified Chinese catalogue is complete, correct and in effect.

Chinese is the service centre's working language (POLICY.md, glossary), English the source
language. A user-facing string added without a zh_CN translation fails here, listing the
strings: run `make extract-messages`, translate the new entries, and commit the .po.
"""
from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from markupsafe import escape

ROOT = Path(__file__).resolve().parent.parent
TRANSLATIONS = ROOT / "fieldservice" / "translations"
# Flask-Babel finds a catalogue by Babel's canonical locale name, and Babel parses "zh_CN" as
# zh_Hans_CN; the catalogue is read from whichever of the two folders exists.
PO = next(
    (path for path in (TRANSLATIONS / name / "LC_MESSAGES" / "messages.po" for name in ("zh_Hans_CN", "zh_CN"))
     if path.exists()),
    TRANSLATIONS / "zh_CN" / "LC_MESSAGES" / "messages.po",
)
MO = PO.with_suffix(".mo")
# The same keywords as `make extract-messages` (-k _l -k lazy_gettext) on top of babel's own.
KEYWORDS = {**DEFAULT_KEYWORDS, "_l": None, "lazy_gettext": None}
PLACEHOLDER_RE = re.compile(r"%\(\w+\)[sdifr]|%[sdifr]")


def _catalog():
    with PO.open("rb") as f:
        return read_po(f, locale="zh_CN")


def _source_msgids() -> dict[str, str]:
    """Every msgid in the current source, by the babel.cfg mapping -> where it was found.

    Unlike a bare `pybabel extract`, folders starting with "_" (templates/_macros) are scanned
    too: babel skips them by default, and their strings are shown to users all the same.
    """
    with (ROOT / "babel.cfg").open() as f:
        method_map, options_map = parse_mapping_cfg(f)

    def directory_filter(path: str) -> bool:
        name = Path(path).name
        return not name.startswith(".") and name not in ("__pycache__", "node_modules")

    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(ROOT), method_map, options_map, keywords=KEYWORDS, directory_filter=directory_filter
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        if msgid:
            found.setdefault(msgid, f"{filename}:{lineno}")
    return found


def _translated(message) -> bool:
    strings = message.string if isinstance(message.string, tuple) else (message.string,)
    return bool(strings) and all(s and s.strip() for s in strings)


@pytest.fixture(scope="module")
def compiled_catalogue():
    """Compile the .po into the package (as `make translations` does) when the .mo is stale."""
    if not MO.exists() or MO.stat().st_mtime < PO.stat().st_mtime:
        subprocess.run(
            [sys.executable, "-m", "babel.messages.frontend", "compile", "-d", str(TRANSLATIONS)],
            check=True, capture_output=True, cwd=ROOT,
        )
    # Flask-Babel caches loaded catalogues in the domain of the process-wide Babel object (a
    # cached property); an earlier test may have cached zh_CN before the .mo existed. Dropping
    # the property makes the next request build a fresh domain that loads the .mo.
    from fieldservice.extensions import babel

    babel.__dict__.pop("domain_instance", None)
    return MO


def test_every_source_string_has_a_chinese_translation():
    catalog = _catalog()
    assert catalog.plural_forms == "nplurals=1; plural=0;", "Chinese has one plural form"
    missing = []
    for msgid, where in sorted(_source_msgids().items(), key=lambda item: item[1]):
        message = catalog.get(msgid)
        if message is None or message.fuzzy or not _translated(message):
            missing.append(f"{where}: {msgid!r}")
    assert not missing, (
        f"{len(missing)} user-facing string(s) without a zh_CN translation in {PO.relative_to(ROOT)} "
        "(run `make extract-messages` and translate them):\n" + "\n".join(missing)
    )


def test_no_fuzzy_or_empty_entries_in_the_catalogue():
    bad = [m.id for m in _catalog() if m.id and (m.fuzzy or not _translated(m))]
    assert not bad, f"fuzzy or untranslated entries: {bad}"


def test_translations_keep_the_placeholders_of_the_msgid():
    wrong = []
    for message in _catalog():
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        # Chinese uses its one form for every count, so it carries the plural msgid's placeholders.
        expected = Counter(PLACEHOLDER_RE.findall(ids[-1]))
        for extra in ids[:-1]:
            expected |= Counter(PLACEHOLDER_RE.findall(extra))
        for string in strings:
            if Counter(PLACEHOLDER_RE.findall(string or "")) != expected:
                wrong.append(f"{ids[0]!r} -> {string!r}")
    assert not wrong, "placeholders differ from the msgid:\n" + "\n".join(wrong)


def test_chinese_catalogue_is_in_effect_for_a_dispatcher(compiled_catalogue, login):
    catalog = _catalog()
    log_request = catalog.get("Log request").string
    unassigned_jobs = catalog.get("Unassigned jobs").string
    assert log_request and unassigned_jobs

    client = login("dispatcher")
    response = client.post_form("/language", {"locale": "zh_CN", "next": "/dispatch/queue"})
    assert response.status_code == 303
    page = client.get("/dispatch/queue").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page
    assert str(escape(log_request)) in page
    assert str(escape(unassigned_jobs)) in page
    assert "Unassigned jobs" not in page


def test_english_login_page_for_an_english_browser(compiled_catalogue, client):
    page = client.get("/login", headers={"Accept-Language": "en"}).get_data(as_text=True)
    assert '<html lang="en">' in page
    assert "Sign in" in page and "Username" in page
    assert str(escape(_catalog().get("Sign in").string)) not in page


@pytest.mark.parametrize("accept, lang", [
    ("zh-CN,zh;q=0.9,en;q=0.8", "zh-CN"),
    ("zh", "zh-CN"),
    ("en-GB,en;q=0.9", "en"),
    ("en", "en"),
])
def test_language_follows_the_browser(compiled_catalogue, client, accept, lang):
    response = client.get("/login", headers={"Accept-Language": accept})
    assert response.status_code == 200
    assert f'<html lang="{lang}">' in response.get_data(as_text=True)
