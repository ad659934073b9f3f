"""Reading and writing gettext catalogues: which messages Wagtail's Japanese catalogue lacks.

Wagtail's (and a few other apps') ``ja`` catalogues translate only part of the admin.
``site/kairan/locale/ja/LC_MESSAGES/{django,djangojs}.po`` supply the rest: entries in
``LOCALE_PATHS`` win over every app catalogue, both for ``gettext`` and for the admin's
JavaScript catalogue (Django's ``JavaScriptCatalog`` always merges ``LOCALE_PATHS``).

Stdlib only (no polib), so ``scripts/missing_ja.py`` and ``tests/test_translation.py``
can use it on any machine. The parser handles what ``makemessages`` writes: comments,
flags, ``msgctxt``, plural forms, continuation lines and obsolete (``#~``) entries.
"""

from __future__ import annotations

import importlib.util
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

DOMAINS = ("django", "djangojs")
TARGET_LANGUAGE = "ja"

# Packages whose catalogues are checked, besides every locale directory inside ``wagtail``.
# Those without an English catalogue (they list no ``en`` .po) take their messages from the
# union of their other languages' catalogues.
EXTRA_PACKAGES = (
    "wagtail_modeladmin",
    "taggit",
    "django_filters",
    "django_otp",
    "axes",
    "django_q",
)

PROJECT_LOCALE = Path(__file__).resolve().parent.parent / "locale"

HEADER = {
    "Project-Id-Version": "Kairan",
    "Report-Msgid-Bugs-To": "",
    "PO-Revision-Date": "",
    "Last-Translator": "Kairan",
    "Language-Team": "Japanese",
    "Language": TARGET_LANGUAGE,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
    "Plural-Forms": "nplurals=1; plural=0;",
}

Key = tuple[str | None, str]  # (msgctxt, msgid)


@dataclass
class Entry:
    msgid: str
    msgctxt: str | None = None
    msgid_plural: str | None = None
    msgstr: str = ""
    msgstr_plural: dict[int, str] = field(default_factory=dict)
    flags: list[str] = field(default_factory=list)
    translator_comments: list[str] = field(default_factory=list)
    extracted_comments: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    obsolete: bool = False

    @property
    def key(self) -> Key:
        return (self.msgctxt, self.msgid)

    @property
    def fuzzy(self) -> bool:
        return "fuzzy" in self.flags

    @property
    def translated(self) -> bool:
        """True when gettext would use this entry (msgfmt skips fuzzy and empty ones)."""
        if self.fuzzy or self.obsolete:
            return False
        if self.msgid_plural is not None:
            return bool(self.msgstr_plural.get(0))
        return bool(self.msgstr)

    def translations(self) -> list[str]:
        if self.msgid_plural is not None:
            return [self.msgstr_plural[i] for i in sorted(self.msgstr_plural)]
        return [self.msgstr]


@dataclass
class Catalog:
    path: Path | None = None
    header_comments: list[str] = field(default_factory=list)
    header: str = ""
    entries: list[Entry] = field(default_factory=list)

    def by_key(self) -> dict[Key, Entry]:
        return {entry.key: entry for entry in self.entries if not entry.obsolete}

    def messages(self) -> list[Entry]:
        return [entry for entry in self.entries if not entry.obsolete]


# --- Parsing -------------------------------------------------------------------

_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\", "a": "\a", "b": "\b", "f": "\f", "v": "\v"}
_ESCAPE_RE = re.compile(r"\\(.)")
_KEYWORD_RE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[(\d+)\])?)\s+(".*")\s*$')


def unquote(text: str) -> str:
    text = text.strip()
    if len(text) < 2 or text[0] != '"' or text[-1] != '"':
        raise ValueError(f"not a quoted string: {text!r}")
    return _ESCAPE_RE.sub(lambda m: _ESCAPES.get(m.group(1), "\\" + m.group(1)), text[1:-1])


def quote(text: str) -> str:
    text = text.replace("\\", "\\\\").replace('"', '\\"').replace("\t", "\\t").replace("\r", "\\r")
    return '"' + text.replace("\n", "\\n") + '"'


def parse_po(text: str, path: Path | None = None) -> Catalog:
    """Parse the text of a .po file; the header entry (msgid "") goes to ``Catalog.header``."""
    catalog = Catalog(path=path)
    blocks: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip():
            blocks[-1].append(line.rstrip("\n"))
        elif blocks[-1]:
            blocks.append([])
    for block in (b for b in blocks if b):
        entry = _parse_block(block, path)
        if entry is None:
            continue
        if entry.msgid == "" and entry.msgctxt is None and not entry.obsolete:
            catalog.header = entry.msgstr
            catalog.header_comments = [line for line in block if line.startswith("#")]
            continue
        catalog.entries.append(entry)
    return catalog


def _parse_block(lines: list[str], path: Path | None) -> Entry | None:
    entry = Entry(msgid="")
    current: str | None = None
    seen_msgid = False
    values: dict[str, str] = {}
    for raw in lines:
        line = raw
        if line.startswith("#~"):
            entry.obsolete = True
            line = line[2:].lstrip()
            if line.startswith("|"):  # previous msgid of an obsolete entry
                continue
            if not line:
                continue
        elif line.startswith("#"):
            marker, rest = line[1:2], line[2:].strip()
            if marker == ",":
                entry.flags.extend(flag.strip() for flag in rest.split(",") if flag.strip())
            elif marker == ".":
                entry.extracted_comments.append(rest)
            elif marker == ":":
                entry.references.extend(rest.split())
            elif marker == "|":
                pass  # previous msgid (fuzzy matching); dropped
            else:
                entry.translator_comments.append(line[1:].removeprefix(" "))
            continue
        if line.startswith('"'):
            if current is None:
                raise ValueError(f"{path}: continuation line outside an entry: {raw!r}")
            values[current] += unquote(line)
            continue
        match = _KEYWORD_RE.match(line)
        if not match:
            raise ValueError(f"{path}: cannot parse line {raw!r}")
        keyword, index, quoted = match.groups()
        current = f"msgstr[{index}]" if index is not None else keyword
        values[current] = unquote(quoted)
        if keyword == "msgid":
            seen_msgid = True
    if not seen_msgid:
        return None
    entry.msgid = values["msgid"]
    entry.msgctxt = values.get("msgctxt")
    entry.msgid_plural = values.get("msgid_plural")
    if entry.msgid_plural is not None:
        entry.msgstr_plural = {
            int(name[7:-1]): value for name, value in values.items() if name.startswith("msgstr[")
        }
    else:
        entry.msgstr = values.get("msgstr", "")
    return entry


def read_po(path: Path) -> Catalog:
    return parse_po(path.read_text(encoding="utf-8"), path)


# --- Writing -------------------------------------------------------------------


def _write_string(keyword: str, value: str) -> list[str]:
    """``keyword "value"``, split after each embedded newline as gettext tools do."""
    parts = value.split("\n")
    if len(parts) <= 2 and (len(parts) == 1 or parts[1] == ""):
        return [f"{keyword} {quote(value)}"]
    pieces = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        pieces.append(parts[-1])
    return [f'{keyword} ""', *(quote(piece) for piece in pieces)]


def format_entry(entry: Entry) -> str:
    lines: list[str] = [f"# {comment}".rstrip() for comment in entry.translator_comments]
    lines += [f"#. {comment}".rstrip() for comment in entry.extracted_comments]
    if entry.references:
        lines.append("#: " + " ".join(entry.references))
    if entry.flags:
        lines.append("#, " + ", ".join(entry.flags))
    body: list[str] = []
    if entry.msgctxt is not None:
        body += _write_string("msgctxt", entry.msgctxt)
    body += _write_string("msgid", entry.msgid)
    if entry.msgid_plural is not None:
        body += _write_string("msgid_plural", entry.msgid_plural)
        for index in sorted(entry.msgstr_plural) or [0]:
            body += _write_string(f"msgstr[{index}]", entry.msgstr_plural.get(index, ""))
    else:
        body += _write_string("msgstr", entry.msgstr)
    if entry.obsolete:
        body = ["#~ " + line for line in body]
    return "\n".join(lines + body) + "\n"


def format_header(fields: dict[str, str]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in fields.items())


def parse_header(header: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in header.splitlines():
        name, sep, value = line.partition(":")
        if sep:
            fields[name.strip()] = value.strip()
    return fields


def format_po(catalog: Catalog) -> str:
    header_entry = Entry(msgid="", msgstr=catalog.header)
    comments = "".join(line + "\n" for line in catalog.header_comments if not line.startswith("#,"))
    out = [comments + format_entry(header_entry)]
    out += [format_entry(entry) for entry in catalog.entries]
    return "\n".join(out)


def write_po(catalog: Catalog, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(format_po(catalog), encoding="utf-8")


# --- Which catalogues, which messages ------------------------------------------


@dataclass(frozen=True)
class Source:
    """One app's catalogues for one domain: the complete list of messages and the ja one."""

    name: str  # e.g. "wagtail/admin"
    domain: str
    reference: tuple[Path, ...]  # en catalogue, or every language's when there is no en
    target: Path  # the app's ja catalogue (may not exist)


def _package_dir(name: str) -> Path | None:
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(next(iter(spec.submodule_search_locations)))


def _locale_dirs(root: Path) -> Iterator[Path]:
    yield from sorted(p for p in root.rglob("locale") if p.is_dir() and "__pycache__" not in p.parts)


def find_sources(extra_packages: Iterable[str] = EXTRA_PACKAGES) -> list[Source]:
    sources: list[Source] = []
    roots: list[tuple[str, Path]] = []
    wagtail_dir = _package_dir("wagtail")
    if wagtail_dir is not None:
        roots.append(("wagtail", wagtail_dir))
    for package in extra_packages:
        package_dir = _package_dir(package)
        if package_dir is not None:
            roots.append((package, package_dir))
    for package, root in roots:
        for locale_dir in _locale_dirs(root):
            app_dir = locale_dir.parent
            name = "/".join((package, *app_dir.relative_to(root).parts))
            for domain in DOMAINS:
                english = locale_dir / "en" / "LC_MESSAGES" / f"{domain}.po"
                if english.exists():
                    reference: tuple[Path, ...] = (english,)
                else:
                    reference = tuple(sorted(locale_dir.glob(f"*/LC_MESSAGES/{domain}.po")))
                    reference = tuple(p for p in reference if p.parts[-3] != TARGET_LANGUAGE)
                if not reference:
                    continue
                target = locale_dir / TARGET_LANGUAGE / "LC_MESSAGES" / f"{domain}.po"
                sources.append(Source(name=name, domain=domain, reference=reference, target=target))
    return sources


def reference_messages(source: Source) -> dict[Key, Entry]:
    """Every message of the app (English catalogue, or the union of the other languages)."""
    messages: dict[Key, Entry] = {}
    for path in source.reference:
        for entry in read_po(path).messages():
            if entry.msgid and entry.key not in messages:
                messages[entry.key] = entry
    return messages


@dataclass
class Missing:
    source: Source
    entry: Entry  # from the reference catalogue


def missing_in_app(source: Source) -> list[Missing]:
    """Messages of the app not translated (absent, empty or fuzzy) in its own ja catalogue."""
    translated: set[Key] = set()
    if source.target.exists():
        translated = {entry.key for entry in read_po(source.target).messages() if entry.translated}
    return [
        Missing(source, entry) for key, entry in reference_messages(source).items() if key not in translated
    ]


def project_catalog_path(domain: str, locale_dir: Path = PROJECT_LOCALE) -> Path:
    return locale_dir / TARGET_LANGUAGE / "LC_MESSAGES" / f"{domain}.po"


def untranslated(sources: Iterable[Source], locale_dir: Path = PROJECT_LOCALE) -> list[Missing]:
    """Messages translated neither by the app's ja catalogue nor by ours (what the test checks)."""
    ours: dict[str, dict[Key, Entry]] = {}
    result: list[Missing] = []
    for source in sources:
        if source.domain not in ours:
            path = project_catalog_path(source.domain, locale_dir)
            ours[source.domain] = read_po(path).by_key() if path.exists() else {}
        for item in missing_in_app(source):
            entry = ours[source.domain].get(item.entry.key)
            if entry is None or not entry.translated:
                result.append(item)
    return result


@dataclass
class UpdateResult:
    domain: str
    path: Path
    missing: int = 0  # messages the apps' ja catalogues lack (distinct keys)
    added: int = 0  # new entries written with an empty msgstr
    untranslated: int = 0  # entries of ours still without a translation
    total: int = 0  # entries in our catalogue
    kept: int = 0  # entries of ours no app needs (Kairan's own, or translated upstream since)
    per_source: dict[str, int] = field(default_factory=dict)


def _new_entry(item: Missing) -> Entry:
    ref = item.entry
    return Entry(
        msgid=ref.msgid,
        msgctxt=ref.msgctxt,
        msgid_plural=ref.msgid_plural,
        msgstr_plural={0: ""} if ref.msgid_plural is not None else {},
        flags=[flag for flag in ref.flags if flag != "fuzzy"],
        extracted_comments=list(ref.extracted_comments),
        references=[item.source.name],
    )


def update_project_catalog(
    domain: str, sources: Iterable[Source], locale_dir: Path = PROJECT_LOCALE, write: bool = True
) -> UpdateResult:
    """Add the messages missing from the apps' ja catalogues to ours, keeping what is there."""
    path = project_catalog_path(domain, locale_dir)
    catalog = read_po(path) if path.exists() else Catalog(path=path)
    fields = parse_header(catalog.header)
    for name, value in HEADER.items():
        if name in ("Content-Type", "Plural-Forms", "Language", "MIME-Version", "Content-Transfer-Encoding"):
            fields[name] = value
        else:
            fields.setdefault(name, value)
    catalog.header = format_header(fields)
    if not catalog.header_comments:
        catalog.header_comments = [
            "# Japanese translations of the Wagtail admin messages Wagtail's own catalogues lack.",
            "# Updated by scripts/missing_ja.py; entries here win over every app catalogue.",
        ]

    result = UpdateResult(domain=domain, path=path)
    existing = catalog.by_key()
    seen: set[Key] = set()
    for source in sources:
        if source.domain != domain:
            continue
        items = missing_in_app(source)
        result.per_source[source.name] = len(items)
        for item in items:
            key = item.entry.key
            if key in seen:
                if key in existing and source.name not in existing[key].references:
                    existing[key].references.append(source.name)
                continue
            seen.add(key)
            if key in existing:
                entry = existing[key]
                if source.name not in entry.references:
                    entry.references.append(source.name)
                if item.entry.msgid_plural is not None and entry.msgid_plural is None:
                    entry.msgid_plural = item.entry.msgid_plural
                    entry.msgstr_plural = {0: entry.msgstr}
                    entry.msgstr = ""
                continue
            entry = _new_entry(item)
            catalog.entries.append(entry)
            existing[key] = entry
            result.added += 1
    if result.added or not fields.get("PO-Revision-Date"):
        fields["PO-Revision-Date"] = datetime.now().astimezone().strftime("%Y-%m-%d %H:%M%z")
        catalog.header = format_header(fields)
    result.missing = len(seen)
    result.total = len(catalog.messages())
    result.kept = sum(1 for entry in catalog.messages() if entry.key not in seen)
    result.untranslated = sum(1 for entry in catalog.messages() if not entry.translated)
    if write:
        write_po(catalog, path)
    return result
