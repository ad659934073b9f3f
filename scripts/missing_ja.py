#!/usr/bin/env python3
"""List the admin messages Wagtail's Japanese catalogues lack and add them to ours.

For every locale directory of Wagtail (wagtail, wagtail/admin, wagtail/contrib/*, ...) and of
the other apps in ``EXTRA_PACKAGES`` (wagtail_modeladmin, taggit, django_filters, django_otp,
axes, django_q), and for both domains (``django`` and ``djangojs``), the messages listed in the
English catalogue (every msgid, with msgctxt and plural forms; apps without an English
catalogue: the union of their other languages) that the app's ``ja`` catalogue lacks, leaves
empty or marks fuzzy are added, with an empty msgstr, to
``site/kairan/locale/ja/LC_MESSAGES/{django,djangojs}.po``. Translations already there are
kept. Then translate the new entries and compile:

    .venv/bin/python scripts/missing_ja.py            # update the .po files, print counts
    .venv/bin/python scripts/missing_ja.py --list     # also print each untranslated message
    .venv/bin/python scripts/missing_ja.py --check    # exit 1 if anything is untranslated (no writing)
    .venv/bin/python scripts/missing_ja.py --compile  # also run msgfmt --check (the .mo are committed)

Stdlib only; the logic lives in ``kairan.core.i18n_catalogs`` (shared with the tests).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "site"))

from kairan.core import i18n_catalogs as catalogs  # noqa: E402


def _describe(entry: catalogs.Entry) -> str:
    text = repr(entry.msgid)
    if entry.msgctxt is not None:
        text = f"[{entry.msgctxt}] {text}"
    if entry.msgid_plural is not None:
        text += f" / {entry.msgid_plural!r}"
    return text


def compile_catalogs() -> int:
    msgfmt = shutil.which("msgfmt")
    if msgfmt is None:
        print("msgfmt not found (apt-get install gettext); .mo files not compiled", file=sys.stderr)
        return 1
    status = 0
    for domain in catalogs.DOMAINS:
        po = catalogs.project_catalog_path(domain)
        if not po.exists():
            continue
        mo = po.with_suffix(".mo")
        done = subprocess.run([msgfmt, "--check", "--statistics", "-o", str(mo), str(po)], check=False)  # noqa: S603
        status = status or done.returncode
    return status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--list", action="store_true", help="print every untranslated message")
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any is untranslated")
    parser.add_argument("--compile", action="store_true", help="run msgfmt --check on our catalogues")
    args = parser.parse_args(argv)

    sources = catalogs.find_sources()
    if args.check:
        missing = catalogs.untranslated(sources)
        for item in missing:
            print(f"{item.source.name} ({item.source.domain}): {_describe(item.entry)}")
        print(f"{len(missing)} message(s) translated neither by the apps' ja catalogues nor by ours")
        return 1 if missing else 0

    for domain in catalogs.DOMAINS:
        result = catalogs.update_project_catalog(domain, sources)
        print(f"== {domain}: {result.path.relative_to(ROOT)}")
        for name, count in result.per_source.items():
            if count:
                print(f"   {name:<40} {count:5} missing in its ja catalogue")
        print(
            f"   {result.missing} distinct messages missing, {result.added} added, "
            f"{result.total} entries in our catalogue, {result.untranslated} still untranslated"
        )
        if result.kept:
            print(f"   {result.kept} kept entries no app catalogue lacks (our own, or translated upstream)")
        if args.list:
            for entry in catalogs.read_po(result.path).messages():
                if not entry.translated:
                    print(f"   - {_describe(entry)}")
    if args.compile:
        return compile_catalogs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
