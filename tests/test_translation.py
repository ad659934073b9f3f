"""The Japanese admin: every Wagtail message has a Japanese translation, and our compiled
catalogues (committed .mo files) match their .po sources.

Wagtail's own ``ja`` catalogues translate only part of the admin; ``site/kairan/locale/ja``
supplies the rest (see ``scripts/missing_ja.py``). When a Wagtail upgrade brings new
messages, ``test_every_message_has_a_japanese_translation`` fails with the list: run
``.venv/bin/python scripts/missing_ja.py``, translate the new entries, then compile with
``.venv/bin/python scripts/missing_ja.py --compile``.
"""

from __future__ import annotations

import gettext
import json
import re
from html.parser import HTMLParser

import pytest
from django.urls import reverse
from django.utils import translation

from kairan.core import i18n_catalogs as catalogs

pytestmark = pytest.mark.django_db


def _describe(item: catalogs.Missing) -> str:
    entry = item.entry
    text = f"{item.source.name} ({item.source.domain}): {entry.msgid!r}"
    if entry.msgctxt is not None:
        text += f" [context {entry.msgctxt!r}]"
    if entry.msgid_plural is not None:
        text += f" / {entry.msgid_plural!r}"
    return text


def test_every_message_has_a_japanese_translation() -> None:
    sources = catalogs.find_sources()
    found = {(source.name, source.domain) for source in sources}
    # The discovery itself must work, or the check below would pass on nothing.
    assert {("wagtail", "django"), ("wagtail/admin", "django"), ("wagtail/admin", "djangojs")} <= found

    missing = catalogs.untranslated(sources)
    assert not missing, (
        f"{len(missing)} message(s) have no Japanese translation in the apps' catalogues nor in "
        "site/kairan/locale/ja; run scripts/missing_ja.py, translate them and compile:\n"
        + "\n".join(_describe(item) for item in missing)
    )


def test_catalogue_reader_round_trips_every_catalogue() -> None:
    """The stdlib .po reader/writer loses nothing on the catalogues it reads (and ours)."""

    def summary(catalog: catalogs.Catalog) -> list[tuple[object, ...]]:
        return [
            (e.key, e.msgid_plural, e.msgstr, e.msgstr_plural, e.flags, e.fuzzy) for e in catalog.messages()
        ]

    paths = {catalogs.project_catalog_path(domain) for domain in catalogs.DOMAINS}
    for source in catalogs.find_sources():
        paths.update(source.reference)
        paths.add(source.target)
    for path in sorted(p for p in paths if p.exists()):
        catalog = catalogs.read_po(path)
        again = catalogs.parse_po(catalogs.format_po(catalog))
        assert summary(again) == summary(catalog), path
        assert again.header == catalog.header, path


@pytest.mark.parametrize("domain", catalogs.DOMAINS)
def test_compiled_catalogue_matches_its_source(domain: str) -> None:
    po_path = catalogs.project_catalog_path(domain)
    mo_path = po_path.with_suffix(".mo")
    assert mo_path.exists(), f"{mo_path} is missing: run scripts/missing_ja.py --compile"
    po = catalogs.read_po(po_path)
    assert catalogs.parse_header(po.header).get("Plural-Forms") == "nplurals=1; plural=0;"
    with mo_path.open("rb") as handle:
        mo = gettext.GNUTranslations(handle)
    compiled: dict[object, str] = mo._catalog  # type: ignore[attr-defined]

    expected: dict[object, str] = {}
    for entry in po.messages():
        if not entry.translated:
            continue
        key = entry.msgid if entry.msgctxt is None else f"{entry.msgctxt}\x04{entry.msgid}"
        if entry.msgid_plural is None:
            expected[key] = entry.msgstr
        else:
            for index, text in entry.msgstr_plural.items():
                expected[(key, index)] = text
    actual = {key: text for key, text in compiled.items() if key != ""}
    stale = sorted(repr(key) for key in expected.keys() ^ actual.keys())
    changed = sorted(repr(key) for key in expected.keys() & actual.keys() if expected[key] != actual[key])
    assert not stale and not changed, (
        f"{mo_path.name} is older than {po_path.name}; run scripts/missing_ja.py --compile. "
        f"Entries only in one of them: {stale[:20]}; different translations: {changed[:20]}"
    )


def test_django_uses_our_catalogue() -> None:
    """LOCALE_PATHS win over every app catalogue: gettext returns our msgstr for each entry."""
    po = catalogs.read_po(catalogs.project_catalog_path("django"))
    wrong = []
    with translation.override("ja"):
        for entry in po.messages():
            if not entry.translated:
                continue
            if entry.msgid_plural is None:
                if entry.msgctxt is None:
                    got = translation.gettext(entry.msgid)
                else:
                    got = translation.pgettext(entry.msgctxt, entry.msgid)
                want = entry.msgstr
            else:
                if entry.msgctxt is None:
                    got = translation.ngettext(entry.msgid, entry.msgid_plural, 2)
                else:
                    got = translation.npgettext(entry.msgctxt, entry.msgid, entry.msgid_plural, 2)
                want = entry.msgstr_plural[0]
            if got != want:
                wrong.append(f"{entry.msgid!r}: {got!r} instead of {want!r}")
        assert translation.gettext("Keyboard shortcuts") == "キーボードショートカット"
        assert translation.gettext("Bulk actions") == "一括操作"
        assert translation.gettext("Remember me") == "ログイン状態を保持する"
    assert not wrong, "\n".join(wrong[:50])


def test_admin_javascript_catalogue_includes_ours(client) -> None:
    """Wagtail's jsi18n view (JavaScriptCatalog, packages=["wagtail.admin"]) merges LOCALE_PATHS."""
    response = client.get(reverse("wagtailadmin_javascript_catalog"), HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    match = re.search(r"const newcatalog = (\{.*?\});\n", response.content.decode(), re.DOTALL)
    assert match, "no catalogue in the jsi18n response"
    js_catalog = json.loads(match.group(1))
    po = catalogs.read_po(catalogs.project_catalog_path("djangojs"))
    wrong = []
    for entry in po.messages():
        if not entry.translated or entry.msgctxt is not None:
            continue
        got = js_catalog.get(entry.msgid)
        want: object = entry.msgstr if entry.msgid_plural is None else [entry.msgstr_plural[0]]
        if got != want:
            wrong.append(f"{entry.msgid!r}: {got!r} instead of {want!r}")
    assert js_catalog.get("Toggle sidebar") == "サイドバーの表示切り替え"
    assert not wrong, "\n".join(wrong[:50])


class _VisibleText(HTMLParser):
    """The text a person sees: text nodes outside script/style/template, and labels' text."""

    HIDDEN = frozenset({"script", "style", "template", "noscript"})

    def __init__(self) -> None:
        super().__init__()
        self.hidden_depth = 0
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN and self.hidden_depth:
            self.hidden_depth -= 1

    def handle_data(self, data: str) -> None:
        if not self.hidden_depth and data.strip():
            self.chunks.append(data.strip())


def test_login_page_is_japanese(client) -> None:
    response = client.get(reverse("wagtailadmin_login"))
    assert response.status_code == 200
    html = response.content.decode()
    parser = _VisibleText()
    parser.feed(html)
    visible = "\n".join(parser.chunks)

    assert "Remember me" not in html
    assert "Password" not in visible, f"English label on the login page:\n{visible}"
    assert "パスワード" in visible
    assert "ログイン状態を保持する" in visible
    for english in ("Sign in", "Log in", "Forgotten password?", "Enter password", "Username"):
        assert english not in visible, f"{english!r} on the login page:\n{visible}"
