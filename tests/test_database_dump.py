"""A raw dump of the whole database holds none of a resident's personal values in clear.

Acceptance test of the issue (「データベースをダンプしても、個人の値が平文で見つからない」): one
resident, 大船渡 花子, goes through everything in Kairan that stores personal data, through the real
paths: she adds the account as a friend and writes to it in LINE (the emulator's signed webhook
posts, replayed to ``/line/webhook/``, then processed, which fetches her LINE profile), opens the
LIFF app (LINE vouches for her), agrees to the terms on My Page, fills in the 受信設定 form, sends a
report form with her name, address, phone, e-mail, birth year, free text, a photo and a location;
a staff member signs in, finds her, changes her 受信設定 with a staff-only memo, exports her data,
lists, exports and opens the form answers and the photo.

Then every table of the database is read with raw SQL (no model, so no decryption) and no
personal value may appear: not as it was typed, nor in the forms a value takes when a column does
not hold it as typed (JSON ``\\uXXXX`` escapes, as Django's ``JSONField`` stores text on SQLite;
percent-encoding, as in a logged URL; base64/zlib/pickle wrappers, as in sessions, the cache and
Django-Q's queue). The files under ``VAR_DIR`` (the private photo store) must not hold the photo.

Positive controls keep the test honest: every encrypted column holds ``aesgcm:`` values, the same
values read through the ORM (which decrypts) are all there, and the scan finds them in that
decrypted text; ``test_the_scan_finds_values_in_every_form_it_looks_for`` shows the scan is not
blind to the encodings it claims to see.

LINE user ids are not searched for: they are pseudonymous ids kept in clear by design (see
docs/architecture.md and ``line_channel.models``), as are the keyed hashes and お問い合わせ番号
derived from them.
"""

from __future__ import annotations

import base64
import io
import json
import os
import pickle
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast
from urllib.parse import quote, quote_plus

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from emulator.client import EmulatorControl
from home.forms.models import FormPageSubmission, line_user_hash, photo_context, private_storage
from home.models import FormPage
from kairan.core.crypto import PREFIX, decrypt_bytes
from line_channel import events, outbox, webhook
from line_channel.gateway import Gateway
from line_channel.models import Follower, OutboxItem, WebhookEvent
from residents.attributes import birth_year_token
from residents.consent import resident_number, terms_in_force
from residents.models import AttributeChange, AttributeFormPage, AttributeToken, ResidentAttributes
from tests.emulator.webhook_receiver import Receiver
from tests.forms.conftest import block, key, make_form, section  # noqa: F401 - fixtures
from tests.line.conftest import WEBHOOK_PATH, line_channel  # noqa: F401 - fixture
from tests.line.test_liff import identify, liff_app, opens_app  # noqa: F401 - fixture
from tests.plaintext_scan import (
    Cell,
    Haystack,
    bare_year_cells,
    birth_year_pattern,
    dump_database,
    encrypted_columns,
    findings,
    haystacks,
)
from tests.residents.conftest import BIRTH_YEAR, DISTRICT, FIRST_POST, MEMO, attribute_page  # noqa: F401
from tests.test_oplog import admin_client

pytestmark = pytest.mark.django_db

# --- the resident and what she tells the city ------------------------------------------------------
#
# Values are chosen so that none of them is part of anything that is not hers: the city's name
# 大船渡 alone, 「岩手県大船渡市」 and the districts (盛町, 大船渡町, ...) appear in the form
# definitions (choice labels and default addresses live in the pages' StreamField, in
# wagtailcore_page and wagtailcore_revision) and in site content, so they are not searched for
# on their own; her given name, kana, the 字 and house number of her address, her phone, e-mail,
# coordinates, texts and file name are hers alone.

FAMILY, GIVEN = "大船渡", "花子"
FAMILY_KANA, GIVEN_KANA = "オオフナト", "ハナコ"
POSTAL_CODE = "022-0003"
ADDRESS = "岩手県大船渡市盛町字宇津野沢15"
PHONE = "0192-27-3111"
EMAIL = "hanako.ofunato.7319@example.jp"
BIRTH = 1987
REPORT_TEXT = "家の前の側溝が壊れています"
FORM_LAT, FORM_LNG = "39.071234", "141.712345"
PHOTO_NAME = "hanako-sokkou-7319.png"
# Her LINE profile (the emulator plays LINE): Kairan keeps the display name and picture
# (encrypted) and never the status message.
DISPLAY_NAME = "はなちゃん🌸おおふなと"
PICTURE_URL = "https://profile.line-scdn.example/0hHanakoOfunato7319/preview"
STATUS_MESSAGE = "猫のミケと暮らしています"
# What she writes to the account in LINE: a text and her location.
LINE_TEXT = "街灯が消えて夜道が暗いです"
LINE_LAT, LINE_LNG = 39.065432, 141.709876
LINE_PLACE = "花子の家"
# What the staff member notes about her (a staff-only item of the 受信設定).
STAFF_MEMO = "転居予定と電話連絡あり"

# label -> the strings that must not appear in clear. The birth year is checked apart (see
# ``test_a_database_dump_holds_no_personal_value_in_clear``): four digits occur by chance in hashes
# and timestamps, so it is searched as part of an answer, never alone.
PERSONAL: dict[str, tuple[str, ...]] = {
    "氏名": (f"{FAMILY} {GIVEN}", f"{FAMILY}{GIVEN}", GIVEN),
    "フリガナ": (FAMILY_KANA, GIVEN_KANA),
    "郵便番号": (POSTAL_CODE, POSTAL_CODE.replace("-", "")),
    "住所": (ADDRESS, "盛町字宇津野沢15", "宇津野沢"),
    "電話番号": (PHONE, PHONE.replace("-", "")),
    "メールアドレス": (EMAIL, EMAIL.split("@")[0]),
    "通報の内容": (REPORT_TEXT,),
    "フォームの位置": (FORM_LAT, FORM_LNG),
    "写真のファイル名": (PHOTO_NAME, PHOTO_NAME.removesuffix(".png")),
    "LINE の表示名": (DISPLAY_NAME, "はなちゃん"),
    "LINE のプロフィール画像": (PICTURE_URL, "0hHanakoOfunato7319"),
    "LINE のステータスメッセージ": (STATUS_MESSAGE, "猫のミケ"),
    "LINE で送った文": (LINE_TEXT,),
    "LINE で送った位置": (str(LINE_LAT), str(LINE_LNG), LINE_PLACE),
    "職員メモ": (STAFF_MEMO,),
}
NEVER_STORED = {"LINE のステータスメッセージ"}  # not even encrypted: Kairan does not keep it

# The report form (a FormPage that needs LINE identity), keys unlike the 受信設定 page's key(1..6).
R_NAME, R_ADDRESS, R_PHONE, R_EMAIL, R_BIRTH, R_TEXT, R_PHOTO, R_PLACE = (key(n) for n in range(11, 19))
REPORT_FIELDS = [
    block("name", 11, label="氏名", required=True, kana="required"),
    block("address", 12, label="住所", required=True, default_address="岩手県大船渡市"),
    block("phone", 13, label="電話番号", required=True),
    block("email", 14, label="メールアドレス", required=True),
    block("birth_year", 15, label="生まれ年", required=True),
    block("multiline", 16, label="内容", required=True, max_length=500),
    block("photo", 17, label="写真", required=True, max_count=2, max_size_mb=5),
    block("location", 18, label="場所", required=True),
]


def noisy_png() -> bytes:
    """A small photo whose bytes occur nowhere else (random pixels)."""
    out = io.BytesIO()
    Image.frombytes("RGB", (24, 24), os.urandom(24 * 24 * 3)).save(out, format="PNG")
    return out.getvalue()


# --- what the resident, LINE and the staff do ------------------------------------------------------


def line_platform_posts(emu: EmulatorControl, user_id: str) -> list[tuple[bytes, str]]:
    """She follows the account and writes to it in LINE; the webhook bodies LINE signs and posts.

    The emulator posts them to a stand-in receiver (the Django test client is not a server); the
    caller replays each body with its own signature to Kairan's webhook.
    """
    receiver = Receiver()
    try:
        emu.channel(webhookUrl=receiver.url, webhookActive=True)
        emu.follow(user_id)
        emu.send_text(user_id, LINE_TEXT)
        emu.send_location(user_id, LINE_LAT, LINE_LNG, title=LINE_PLACE, address=ADDRESS)
        assert emu.drain_webhooks(timeout=10) == 0
        posts = [(r.body, r.headers["x-line-signature"]) for r in receiver.requests]
    finally:
        emu.channel(webhookActive=False)
        receiver.close()
    assert len(posts) == 3
    return posts


def send_queued_messages() -> int:
    """The outbox worker's job, in this thread (the test's transaction is never committed)."""
    sent = 0
    with Gateway.from_settings() as gateway:
        while (item := outbox.claim_next()) is not None:
            outbox.send_claimed(item, gateway=gateway)
            sent += 1
    return sent


@dataclass
class World:
    user_id: str
    image: bytes
    report: FormPage
    submission: FormPageSubmission


@pytest.fixture
def world(
    attribute_page: AttributeFormPage,  # noqa: F811 - the imported fixture
    make_form: Callable[..., FormPage],  # noqa: F811 - the imported fixture
    liff_app: str,  # noqa: F811 - the imported fixture
    emu: EmulatorControl,
    make_staff: Callable[..., Any],
    settings: Any,
    tmp_path: Path,
) -> World:
    """The whole story, through HTTP and the LINE emulator; returns what the checks need."""
    # Files of this test only, all of them checked below: the private store (under VAR_DIR) and,
    # should anything put a resident's upload there, public media.
    settings.VAR_DIR = tmp_path
    settings.MEDIA_ROOT = tmp_path / "media"
    webhook.channel_secret.forget()  # the secret LINE連携設定 holds now, not one another test cached

    # LINE: her account (with a picture and a status message), the LIFF app opened in LINE.
    user_id, id_token = opens_app(emu, DISPLAY_NAME, pictureUrl=PICTURE_URL, statusMessage=STATUS_MESSAGE)

    # She adds the account and writes to it; LINE posts the events, Kairan stores and processes
    # them (the follow fetches her profile through the gateway).
    platform = Client()
    for body, signature in line_platform_posts(emu, user_id):
        response = platform.post(
            WEBHOOK_PATH,
            data=body,
            content_type="application/json; charset=utf-8",
            HTTP_X_LINE_SIGNATURE=signature,
        )
        assert response.status_code == 200
    processed = events.process_pending()
    assert processed.done + processed.ignored == 3 and processed.failed == 0

    # The LIFF app: LINE vouches for her, My Page asks her to agree to the terms, she does.
    resident = Client()
    assert identify(resident, id_token).status_code == 200
    assert "はじめに" in resident.get("/liff/").content.decode()
    terms = terms_in_force()
    assert terms is not None
    agreed = resident.post("/liff/agree/", {"terms": terms.pk, "agree": "yes"})
    assert agreed.status_code == 302 and agreed["Location"] == "/liff" + attribute_page.url

    # 受信設定: born 1987, lives in 盛町, ...
    assert resident.get(agreed["Location"]).status_code == 200
    assert resident.post(agreed["Location"], FIRST_POST).status_code == 200

    # A report through the LIFF app, with a photo and a location.
    report = make_form(
        REPORT_FIELDS, slug="tsuhou", requires_line_identity=True, line_message="通報を受け付けました。"
    )
    image = noisy_png()
    liff_url = "/liff" + report.url
    assert "data-kf-form" in resident.get(liff_url).content.decode()
    sent = resident.post(
        liff_url,
        {
            f"{R_NAME}_family": FAMILY,
            f"{R_NAME}_given": GIVEN,
            f"{R_NAME}_family_kana": FAMILY_KANA,
            f"{R_NAME}_given_kana": GIVEN_KANA,
            f"{R_ADDRESS}_postal_code": POSTAL_CODE,
            f"{R_ADDRESS}_address": ADDRESS,
            R_PHONE: PHONE,
            R_EMAIL: EMAIL,
            R_BIRTH: str(BIRTH),
            R_TEXT: REPORT_TEXT,
            R_PHOTO: SimpleUploadedFile(PHOTO_NAME, image, content_type="image/png"),
            f"{R_PLACE}_lat": FORM_LAT,
            f"{R_PLACE}_lng": FORM_LNG,
        },
    )
    assert sent.status_code == 200 and "data-kf-form" not in sent.content.decode(), "the landing page"
    submission = FormPageSubmission.objects.get(page=report)
    # Kairan wrote to her: マイページの案内 (the reply to her follow, sent at once by the worker that
    # processed it) and 「通報を受け付けました。」 (sent by the outbox worker now).
    assert send_queued_messages() >= 1
    assert OutboxItem.objects.count() == OutboxItem.objects.filter(state=OutboxItem.State.SENT).count() >= 2

    # A staff member (システム管理者, password and TOTP) finds her by her お問い合わせ番号, changes her
    # 受信設定 with a staff-only memo, exports her data, lists and exports the report answers and
    # opens the photo.
    staff = Client()
    admin_client(make_staff, staff)
    number = resident_number(user_id)
    found = staff.get("/admin/residents/", {"number": number})
    resident_url = f"/admin/residents/{line_user_hash(user_id)}/"
    assert found.status_code == 302 and found["Location"] == resident_url
    detail = staff.get(resident_url).content.decode()
    assert DISPLAY_NAME in detail, "staff read the display name: it was stored (encrypted)"
    assert staff.get(resident_url + "settings/").status_code == 200
    changed = staff.post(resident_url + "settings/", {**FIRST_POST, DISTRICT: "c3-2", MEMO: STAFF_MEMO})
    assert changed.status_code == 302, changed.content.decode()[:500]
    disclosure = staff.get(resident_url + "export/")
    assert disclosure.status_code == 200 and STAFF_MEMO in disclosure.content.decode("utf-8")
    listing = f"/admin/forms/submissions/{report.pk}/"
    assert REPORT_TEXT in staff.get(listing).content.decode()
    csv = staff.get(listing + "?export=csv&encoding=utf-8")
    assert csv.status_code == 200 and ADDRESS in b"".join(csv.streaming_content).decode("utf-8-sig")  # type: ignore[attr-defined]
    photo = staff.get(f"/admin/kairan-forms/submissions/{submission.pk}/photos/{R_PHOTO}/0/")
    assert photo.status_code == 200 and photo.content == image
    assert staff.get("/admin/line/followers/").status_code == 200
    assert staff.get("/admin/").status_code == 200

    return World(user_id=user_id, image=image, report=report, submission=submission)


# --- the checks ----------------------------------------------------------------------------------


def test_a_database_dump_holds_no_personal_value_in_clear(world: World, settings: Any) -> None:
    """The acceptance test; then the positive control, without which it would also pass if nothing
    had been stored at all."""
    cells = dump_database()
    assert_the_dump_is_the_whole_story(cells)
    assert_no_personal_value_in_clear(cells, world)
    assert_no_file_holds_the_photo(Path(settings.VAR_DIR), world)
    assert_the_values_are_stored_encrypted(cells, world)


def assert_the_dump_is_the_whole_story(cells: list[Cell]) -> None:
    from django.contrib.sessions.models import Session

    from kairan.oplog.models import AccessLogEntry, OperationLogEntry
    from residents.models import Consent

    tables = {cell.table for cell in cells}
    written = (
        Follower,
        WebhookEvent,
        OutboxItem,
        ResidentAttributes,
        AttributeChange,
        AttributeToken,
        Consent,
        FormPageSubmission,
        OperationLogEntry,
        AccessLogEntry,
        Session,
    )
    assert {model._meta.db_table for model in written} <= tables


def assert_no_personal_value_in_clear(cells: list[Cell], world: World) -> None:
    stacks = haystacks(cells)

    # 1. No personal value, in any form, in any column of any table.
    leaks = findings(stacks, PERSONAL)
    assert not leaks, "in clear:\n" + "\n".join(f"{f.where}: {f.label} {f.needle!r}" for f in leaks)

    # 2. The birth year (1987, in the 受信設定 and in the report): never next to its field's key (a
    # JSON answer, a form post, the blind index's preimage) anywhere, and not at all, outside
    # ciphertexts and digests, in the tables of answers and tokens. (A bare 1987 is not searched
    # in every table: it occurs by chance in hex digests, ids and timestamps' microseconds.)
    patterns = [birth_year_pattern(BIRTH_YEAR, BIRTH), birth_year_pattern(R_BIRTH, BIRTH)]
    assert [s.where for s in stacks for p in patterns if any(p.search(text) for text in s.texts)] == []
    assert bare_year_cells(cells, BIRTH) == []

    # 3. The photo: not in the database, raw or base64 (as JSON or a pickle would carry it).
    for form in (world.image, base64.b64encode(world.image), base64.urlsafe_b64encode(world.image)):
        assert [s.where for s in stacks if any(form in text for text in s.texts)] == []


def assert_no_file_holds_the_photo(var_dir: Path, world: World) -> None:
    """Every file the story wrote under VAR_DIR (which holds MEDIA_ROOT too in this test) is in the
    private store, encrypted (``KRN`` header), and holds neither the photo's bytes nor any
    personal value."""
    private = var_dir / "private"
    files = [path for path in var_dir.rglob("*") if path.is_file()]
    assert files and all(path.is_relative_to(private) for path in files), files
    for path in files:
        content = path.read_bytes()
        assert content.startswith(b"KRN"), f"{path} is not a Kairan encrypted file"
        assert world.image not in content and world.image[8:40] not in content, path
        assert not findings([Haystack(str(path), [content])], PERSONAL), path


def assert_the_values_are_stored_encrypted(cells: list[Cell], world: World) -> None:
    # Every encrypted column holds only ciphertexts; the resident's ones are not empty.
    columns = encrypted_columns()
    stored = [c for c in cells if (c.table, c.column) in columns and c.value not in (None, "")]
    assert [c.where for c in stored if not str(c.value).startswith(PREFIX)] == []
    expected = {
        ("line_channel_follower", "display_name"),
        ("line_channel_follower", "picture_url"),
        ("line_channel_webhookevent", "payload"),
        ("line_channel_outboxitem", "messages"),
        ("residents_residentattributes", "line_user_id"),
        ("residents_residentattributes", "answers"),
        ("residents_attributechange", "changes"),
        ("home_formpagesubmission", "line_user_id"),
        ("home_formpagesubmission", "form_data"),
    }
    assert expected <= columns
    assert expected <= {(c.table, c.column) for c in stored}

    # Read through the ORM (which decrypts), everything she gave is there ...
    follower = Follower.objects.get(line_user_id=world.user_id)
    assert (follower.display_name, follower.picture_url) == (DISPLAY_NAME, PICTURE_URL)
    payloads = [cast(dict[str, Any], e.payload) for e in WebhookEvent.objects.order_by("occurred_at")]
    assert [p["type"] for p in payloads] == ["follow", "message", "message"]
    assert payloads[1]["message"]["text"] == LINE_TEXT
    assert payloads[2]["message"]["address"] == ADDRESS and payloads[2]["message"]["title"] == LINE_PLACE
    attributes = ResidentAttributes.objects.get(line_user_hash=line_user_hash(world.user_id))
    assert attributes.line_user_id == world.user_id
    assert attributes.current[BIRTH_YEAR] == BIRTH and attributes.current[MEMO] == STAFF_MEMO
    staff_change = AttributeChange.objects.filter(resident=attributes).latest("pk")
    assert staff_change.actor.startswith("staff:") and staff_change.changed[MEMO]["after"] == STAFF_MEMO
    assert AttributeToken.objects.filter(
        resident=attributes, token=birth_year_token(BIRTH_YEAR, BIRTH)
    ).exists(), "the year is indexed, blind"
    answers = world.submission.answers
    assert world.submission.line_user_id == world.user_id
    assert answers[R_NAME] == {
        "family": FAMILY,
        "given": GIVEN,
        "family_kana": FAMILY_KANA,
        "given_kana": GIVEN_KANA,
    }
    assert answers[R_ADDRESS] == {"postal_code": POSTAL_CODE.replace("-", ""), "address": ADDRESS}
    assert (answers[R_PHONE], answers[R_EMAIL], answers[R_BIRTH]) == (PHONE, EMAIL, BIRTH)
    assert answers[R_TEXT] == REPORT_TEXT
    assert answers[R_PLACE] == {"lat": float(FORM_LAT), "lng": float(FORM_LNG)}
    [photo] = answers[R_PHOTO]
    assert photo["name"] == PHOTO_NAME
    with private_storage().open(photo["file"], "rb") as handle:
        assert decrypt_bytes(handle.read(), context=photo_context(photo["file"])) == world.image
    assert OutboxItem.objects.get(purpose=f"form:{world.report.pk}").state == OutboxItem.State.SENT

    # ... and the scan finds every value in that decrypted text (in the JSON form Django's
    # JSONField would store it in on SQLite, \uXXXX escapes), so its silence about the dump means
    # the values are not there, not that it cannot see them.
    decrypted = [
        Cell("orm", "follower", json.dumps([follower.display_name, follower.picture_url])),
        Cell("orm", "webhookevent", json.dumps(payloads)),
        Cell("orm", "residentattributes", json.dumps(attributes.current)),
        Cell("orm", "attributechange", json.dumps(staff_change.changed)),
        Cell("orm", "formpagesubmission", json.dumps(answers)),
    ]
    stacks = haystacks(decrypted)
    assert {finding.label for finding in findings(stacks, PERSONAL)} == set(PERSONAL) - NEVER_STORED
    for field_key in (BIRTH_YEAR, R_BIRTH):
        assert any(birth_year_pattern(field_key, BIRTH).search(t) for s in stacks for t in s.texts)


def test_the_scan_finds_values_in_every_form_it_looks_for() -> None:
    """The scan sees a value as typed, JSON-escaped, percent-encoded, in a session (signed,
    compressed JSON), in the database cache (a base64 pickle) and in Django-Q's queue (a signed
    pickle, compressed or not), so a value kept in any of them would be found."""
    from django.contrib.sessions.backends.db import SessionStore
    from django_q.signing import SignedPackage

    value = f"{FAMILY} {GIVEN}"
    wrapped = {
        "typed": value,
        "json": json.dumps({"name": value}),
        "url": "/admin/?q=" + quote_plus(value),
        "path": "/liff/" + quote(value, safe=""),
        "session": SessionStore().encode({"draft": value, "padding": "x" * 200}),
        "cache": base64.b64encode(pickle.dumps({"draft": value})).decode(),
        "queue": SignedPackage.dumps({"args": (value,)}),
        "queue-compressed": SignedPackage.dumps({"args": (value,), "padding": "x" * 200}, compressed=True),
    }
    stacks = haystacks(Cell("test", name, text) for name, text in wrapped.items())
    seen = {finding.where.removeprefix("test.") for finding in findings(stacks, {"氏名": (value,)})}
    assert seen == set(wrapped)
    assert findings(haystacks([Cell("test", "other", "大船渡 太郎")]), {"氏名": (value,)}) == []

    year = birth_year_pattern(BIRTH_YEAR, BIRTH)
    assert year.search(json.dumps({BIRTH_YEAR: BIRTH}).encode())
    assert year.search(json.dumps({BIRTH_YEAR: str(BIRTH)}).encode())
    assert year.search(repr({BIRTH_YEAR: BIRTH}).encode())
    assert year.search(f"{BIRTH_YEAR}=year:{BIRTH}".encode())
    assert not year.search(json.dumps({BIRTH_YEAR: BIRTH + 1, "other": BIRTH}).encode())
    cells = [
        Cell("residents_attributetoken", "token", "ab1987cd" * 8),  # a digest: chance
        Cell("home_formpagesubmission", "form_data", PREFIX + "0123abcd:x1987y"),  # a ciphertext: chance
        Cell("home_formpagesubmission", "birth", BIRTH),
        Cell("residents_attributetoken", "id", BIRTH),  # a key: the 1987th row of a long run
        Cell("residents_residentattributes", "answers", f'{{"year": {BIRTH}}}'),
        Cell("line_channel_follower", "language", str(BIRTH)),  # not an answer table
    ]
    assert bare_year_cells(cells, BIRTH) == [
        "home_formpagesubmission.birth",
        "residents_residentattributes.answers",
    ]
