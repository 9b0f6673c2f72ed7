"""Minified copies of our own JavaScript and CSS (issue 7: small pages on weak signal).

`make assets` (python -m fieldservice.devtools.assets) writes `js/app.min.js` next to
`js/app.js` (and so on for every .js under static/js and .css under static/css). The first line
of a built file names the source and the hash of the source it was built from; pages link the
built file only while that hash is the source's current one (templating.asset_name), so an
edited source is served as it is until it is built again, never a stale build. A test fails
while a committed build is stale. Vendored files (static/vendor) come minified already.

rjsmin and rcssmin are development dependencies: the running app never minifies.
"""
from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

STATIC = Path(__file__).resolve().parents[1] / "static"
SOURCE_DIRS = {"js": ".js", "css": ".css"}
HASH_LENGTH = 12


def built_name(name: str) -> str | None:
    """'js/app.js' -> 'js/app.min.js'; None for a file that is not a source to build."""
    for ext in SOURCE_DIRS.values():
        if name.endswith(ext) and not name.endswith(".min" + ext):
            return name[: -len(ext)] + ".min" + ext
    return None


def source_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:HASH_LENGTH]


def mark(name: str, digest: str) -> str:
    """The first line of a built file: which source, and which version of it."""
    return f"/*! {name} {digest} */\n"


def read_mark(first_line: str) -> tuple[str, str] | None:
    parts = first_line.strip().split()
    if len(parts) == 4 and parts[0] == "/*!" and parts[3] == "*/":
        return parts[1], parts[2]
    return None


def sources(static: Path = STATIC) -> list[str]:
    found = []
    for folder, ext in SOURCE_DIRS.items():
        for path in sorted((static / folder).glob("*" + ext)):
            name = f"{folder}/{path.name}"
            if built_name(name):
                found.append(name)
    return found


def minify(name: str, text: str) -> str:
    if name.endswith(".css"):
        import rcssmin

        return rcssmin.cssmin(text)
    import rjsmin

    return rjsmin.jsmin(text)


def expected(name: str, static: Path = STATIC) -> str:
    data = (static / name).read_bytes()
    return mark(name, source_digest(data)) + minify(name, data.decode("utf-8")) + "\n"


def stale(static: Path = STATIC) -> list[str]:
    """Built files missing or not matching their source (names of the built files)."""
    out = []
    for name in sources(static):
        target = static / built_name(name)
        if not target.exists() or target.read_text(encoding="utf-8") != expected(name, static):
            out.append(built_name(name))
    return out


def build(static: Path = STATIC) -> list[str]:
    """Write every stale built file; returns the names written."""
    written = []
    for name in sources(static):
        target = static / built_name(name)
        text = expected(name, static)
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            target.write_text(text, encoding="utf-8")
            written.append(built_name(name))
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only list stale builds; exit 1 if any")
    args = parser.parse_args(argv)
    if args.check:
        names = stale()
        for name in names:
            print(f"stale: fieldservice/static/{name} (run make assets)")
        return 1 if names else 0
    for name in build():
        print(f"built fieldservice/static/{name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
