"""ホームページ取り込み: turning the city's website into チャットボットの回答 pages.

A run (``run_sync``) claims its source, lists the pages (the sitemap, or the links followed from the
start page inside the sections), reads each one (``scraper.fetch``), extracts it
(``scraper.extract``) and creates, updates or unpublishes an ``AnswerPage`` per URL:

- new page → a new answer (published, or submitted to its moderation workflow when the source
  does not publish automatically);
- changed content (hash of title, text and address) → a new revision, published or submitted;
- same content → nothing written (no revision);
- 404/410, ``noindex``, robots.txt now forbidding it, or no longer listed (when the listing is known
  to be complete) → the answer is unpublished, never deleted.

Each URL gives a line in the run's report. Runs are worked on in steps that fit in a Django-Q task
(``time_budget``; ``continue_run`` takes the next step), and a run holds its source
(``current_run`` with a heartbeat, set under a row lock), so two runs never work on one source and
a URL has a single ``ScrapedPage`` (unique), hence a single answer page.
"""

from __future__ import annotations

import hashlib
import logging
import re
import time
import uuid
from collections import deque
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify
from django_q.tasks import async_task
from wagtail.models import Page, Site

from chatbot.models import AnswerPage
from deliveries.blocks import TEXT_MAX, TITLE_MAX, URI_MAX, utf16_len
from kairan.oplog.services import record
from scraper import extract as ex
from scraper.fetch import SITEMAP_MAX_BYTES, Fetcher, FetchError, Response, canonical_url, ungzip
from scraper.fetch import Site as WebSite
from scraper.models import COUNTER_FIELDS, Action, ScrapedPage, ScrapeRun, ScrapeRunLine, ScrapeSource

logger = logging.getLogger(__name__)

SYNC_TASK = "scraper.tasks.sync_source"
CONTINUE_TASK = "scraper.tasks.continue_run"
SECTION_TITLE = "ホームページ"
SECTION_SLUG = "homepage"
SECTION_TEXT = (
    "市のホームページから自動で取り込んだ回答をまとめるページです。"
    "知りたいことを言葉で送ると、この下の回答から探してお答えします。"
)
LINK_LABEL = "詳しくはホームページへ"
STALE_AFTER = timedelta(minutes=15)  # a run silent this long has died; another may take its source
MAX_SITEMAPS = 50
MAX_KNOWN_URLS = 50_000
NOT_PAGES = re.compile(
    r"\.(?:pdf|docx?|xlsx?|pptx?|odt|ods|odp|csv|zip|lzh|gz|jpe?g|png|gif|svg|webp|bmp|ico|mp[34]|mov|avi"
    r"|wav|wmv|css|js|json|xml|ics|exe|dmg|apk|txt)$",
    re.IGNORECASE,
)
INTERRUPTED_BY_TAKEOVER = "処理が止まっていたため中断しました（次の取り込みが引き継ぎました）。"
NEVER_STARTED = "実行されませんでした（バックグラウンド処理が止まっていた可能性があります）。"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ScrapeError(Exception):
    """A staff request that cannot be done (in Japanese, for the admin message)."""


class _ClaimLost(Exception):
    """Another run took the source over (this one was silent too long)."""


# --- the answer made from a page ------------------------------------------------------------------


def _clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-16 code units (as LINE counts), with "…" when cut."""
    if utf16_len(text) <= limit:
        return text
    while text and utf16_len(text) + 1 > limit:
        text = text[:-1]
    return text.rstrip() + "…"


def _block(kind: str, value: Any) -> dict[str, Any]:
    return {"type": kind, "value": value, "id": str(uuid.uuid4())}


def answer_body(*, title: str, text: str, url: str, modified: datetime | None) -> list[dict[str, Any]]:
    """The answer's messages: a summary of the page, then the way to the page itself (a card with a
    button when the page is https, which LINE requires for buttons; else a text with the address)."""
    summary = _clip(ex.summarize(text) or title, TEXT_MAX)
    blocks = [_block("text", summary)]
    if url.startswith("https://") and utf16_len(url) <= URI_MAX:
        day = timezone.localtime(modified) if modified else None
        when = f"（{day.year}年{day.month}月{day.day}日更新）" if day else ""
        button = {
            "label": LINK_LABEL,
            "action": "url",
            "url": url,
            "page": None,
            "data": "",
            "display_text": "",
        }
        card = {
            "image": None,
            "title": _clip(title, TITLE_MAX),
            "body": f"市のホームページの内容です{when}。",
            "buttons": [{"type": "item", "value": button, "id": str(uuid.uuid4())}],
        }
        blocks.append(_block("card", card))
    else:
        blocks.append(_block("text", f"{LINK_LABEL}\n{url}"))
    return blocks


def target_parent(source: ScrapeSource) -> Page:
    """Where the source's answers go: the chosen page, else the 「ホームページ」 section under the site's
    root page (an unpublished answer page made on the first run, so that residents are never shown
    its many children as buttons; the answers under it are published and found by search)."""
    if source.parent_page_id and (chosen := Page.objects.filter(pk=source.parent_page_id).first()):
        return chosen.specific
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    root = site.root_page if site is not None else Page.objects.filter(depth=2).first()
    if root is None:
        raise FetchError("サイトのトップページがないため、回答ページを作れません。")
    section = AnswerPage.objects.child_of(root).filter(slug=SECTION_SLUG).first()
    if section is None:
        section = AnswerPage(
            title=SECTION_TITLE,
            slug=SECTION_SLUG,
            body=[_block("text", SECTION_TEXT)],
            choice_style="none",  # (its many pages are found by keywords and free text)
            live=False,
        )
        root.add_child(instance=section)
        section.save_revision(log_action="wagtail.create")
    ScrapeSource.objects.filter(pk=source.pk).update(parent_page=section)
    return section


def _slug(parent: Page, url: str) -> str:
    path = unquote(urlsplit(url).path)
    path = re.sub(r"(?:/index)?\.(?:html?|php|aspx?|jsp|cgi)$", "", path)
    base = slugify(path.replace("/", "-"))[:60].strip("-") or "page"
    taken = Page.objects.child_of(parent).filter(slug=base).exists()
    return f"{base[:50]}-{hashlib.sha256(url.encode()).hexdigest()[:8]}" if taken else base


# --- what is followed -----------------------------------------------------------------------------


class Scope:
    """The pages of a source: its site, inside its sections, not excluded, not a file."""

    def __init__(self, source: ScrapeSource) -> None:
        self.site = WebSite.of(source.base_url)
        self.sections = [
            canonical_url(section, self.site.root) or section for section in source.section_list()
        ]
        self.sections = [urlsplit(section).path for section in self.sections]
        self.excludes = [
            re.compile(".*".join(re.escape(part) for part in pattern.split("*")))
            for pattern in source.exclude_list()
        ]

    def follows(self, url: str) -> bool:
        if not self.site.contains(url):
            return False
        parts = urlsplit(url)
        if NOT_PAGES.search(parts.path):
            return False
        readable = unquote(parts.path) + (f"?{unquote(parts.query)}" if parts.query else "")
        if any(pattern.search(readable) or pattern.search(url) for pattern in self.excludes):
            return False
        return not self.sections or any(parts.path.startswith(section) for section in self.sections)


# --- claiming ---------------------------------------------------------------------------------------


def _claim(source: ScrapeSource, run: ScrapeRun) -> bool:
    """Make ``run`` the source's one run, unless another is alive (a silent one is taken over)."""
    with transaction.atomic():
        locked = ScrapeSource.objects.select_for_update().get(pk=source.pk)
        now = timezone.now()
        holder = locked.current_run_id
        if holder and holder != run.pk:
            if locked.heartbeat_at is not None and locked.heartbeat_at > now - STALE_AFTER:
                return False
            ScrapeRun.objects.filter(
                pk=holder, status__in=[ScrapeRun.Status.QUEUED, ScrapeRun.Status.RUNNING]
            ).update(
                status=ScrapeRun.Status.INTERRUPTED,
                finished_at=now,
                in_step=False,
                message=INTERRUPTED_BY_TAKEOVER,
            )
        ScrapeSource.objects.filter(pk=source.pk).update(current_run=run, heartbeat_at=now)
        # Runs queued long ago whose task never came (a stopped cluster) will not run any more.
        ScrapeRun.objects.filter(
            source=source, status=ScrapeRun.Status.QUEUED, created_at__lt=now - STALE_AFTER
        ).update(status=ScrapeRun.Status.INTERRUPTED, finished_at=now, message=NEVER_STARTED)
    return True


def _release(run: ScrapeRun) -> None:
    if run.source_id:
        ScrapeSource.objects.filter(pk=run.source_id, current_run=run).update(
            current_run=None, heartbeat_at=None
        )


def _close(run: ScrapeRun, status: str, message: str = "") -> ScrapeRun:
    run.status = status
    run.in_step = False
    run.finished_at = timezone.now()
    if message:
        run.message = message
    run.save(update_fields=["status", "in_step", "finished_at", "message", "state", *COUNTER_FIELDS.values()])
    _release(run)
    return run


# --- a step of a run --------------------------------------------------------------------------------


class _Step:
    """One task's worth of a run: discovery (first step), then pages until done or out of time."""

    def __init__(self, run: ScrapeRun, *, time_budget: float | None) -> None:
        assert run.source is not None
        self.run = run
        self.source: ScrapeSource = run.source
        self.deadline = None if time_budget is None else time.monotonic() + max(0.0, time_budget)
        self.state: dict[str, Any] = dict(run.state or {})
        self.scope = Scope(self.source)
        self.fetcher = Fetcher(
            site=self.scope.site, delay=self.source.delay_seconds, max_bytes=self.source.max_bytes
        )
        self._parent: Page | None = None
        self.read_in_step = 0

    # -- report ------------------------------------------------------------------------------------

    def line(self, action: Action, url: str, reason: str = "", *, title: str = "", page: Any = None) -> None:
        ScrapeRunLine.objects.create(
            run=self.run, url=url[:1000], action=action, reason=reason[:500], title=title[:255], page=page
        )
        field = COUNTER_FIELDS[action]
        setattr(self.run, field, getattr(self.run, field) + 1)

    def heartbeat(self) -> None:
        alive = ScrapeSource.objects.filter(pk=self.source.pk, current_run=self.run).update(
            heartbeat_at=timezone.now()
        )
        if not alive:
            raise _ClaimLost

    def save_progress(self) -> None:
        self.run.state = self.state
        self.run.save(update_fields=["state", "in_step", *COUNTER_FIELDS.values()])

    # -- listing -------------------------------------------------------------------------------------

    def discover(self) -> None:
        if self.state.get("discovered"):
            return
        self.fetcher.robots()  # FetchError (no answer) stops the run before anything is judged missing
        start = canonical_url(self.source.start_url) if self.source.start_url else None
        if self.source.sitemap_url:
            listed, complete = self._sitemaps(canonical_url(self.source.sitemap_url) or "")
            known = list(dict.fromkeys(url for url in listed if self.scope.follows(url)))
            if start and self.scope.follows(start) and start not in known:
                known.insert(0, start)
            seen = dict(ScrapedPage.objects.filter(source=self.source).values_list("url", "last_seen_at"))
            # New pages first, then those read longest ago (the page limit then rotates over the site).
            queue = sorted(known, key=lambda url: (url in seen, seen.get(url) or _EPOCH))
            self.state.update(mode="sitemap", complete=complete and bool(known))
        else:
            queue = [start] if start else []
            known = [start] if start and self.scope.follows(start) else []
            self.state.update(mode="crawl", complete=True)
        self.state.update(discovered=True, queue=queue, known=known, fetched=0, limited=False)

    def _sitemaps(self, first: str) -> tuple[list[str], bool]:
        """Every URL of the sitemap (and of the sitemaps an index lists); complete if all were read."""
        urls: list[str] = []
        complete = True
        pending, done = deque([first]), set()
        while pending:
            sitemap = pending.popleft()
            if sitemap in done:
                continue
            done.add(sitemap)
            if len(done) > MAX_SITEMAPS:
                self.line(Action.ERROR, sitemap, f"サイトマップが多すぎます（{MAX_SITEMAPS} まで読みます）")
                return urls, False
            response = self.fetcher.get(sitemap, max_bytes=SITEMAP_MAX_BYTES)
            if not response.ok:
                complete = False
                self.line(Action.ERROR, sitemap, f"サイトマップを読めませんでした（{_problem(response)}）")
                continue
            try:
                listed, is_index = ex.sitemap_urls(ungzip(response.content))
            except (OSError, ValueError, EOFError):
                complete = False
                self.line(Action.ERROR, sitemap, "サイトマップの形式が正しくありません")
                continue
            for url in listed:
                absolute = canonical_url(url, response.url)
                if absolute is None:
                    continue
                if is_index:
                    if self.scope.site.contains(absolute):
                        pending.append(absolute)
                    else:
                        complete = False
                else:
                    urls.append(absolute)
        return urls, complete

    # -- pages ---------------------------------------------------------------------------------------

    def process(self) -> bool:
        """Read queued pages until the queue is empty (True) or the step's time is up (False)."""
        queue: list[str] = self.state["queue"]
        while queue:
            if self.state["fetched"] >= self.source.max_pages:
                self.line(
                    Action.SKIPPED,
                    queue[0],
                    f"1回に読むページ数の上限（{self.source.max_pages}）に達したため、"
                    f"残りの {len(queue)} 件（この URL から）は次回以降に読みます。",
                )
                self.run.skipped_count += len(queue) - 1
                self.state["limited"] = True
                queue.clear()
                break
            if self.deadline is not None and self.read_in_step and time.monotonic() > self.deadline:
                return False
            url = queue.pop(0)
            try:
                self.read(url)
            except (_ClaimLost, FetchError):
                raise
            except Exception as error:  # one page's failure is reported, the run goes on
                logger.exception("scraper: %s failed", url)
                self.unreadable()
                self.line(Action.ERROR, url, f"処理できませんでした（{type(error).__name__}: {error}）")
            self.read_in_step += 1
            self.heartbeat()
        return True

    def read(self, url: str) -> None:
        found = ScrapedPage.objects.filter(source=self.source, url=url).select_related("page").first()
        if not self.fetcher.allowed(url):
            self.gone(found, url, "robots.txt で読むことが禁止されています")
            return
        headers: dict[str, str] = {}
        if (
            self.state["mode"] == "sitemap"
            and found
            and found.page_id
            and found.status == ScrapedPage.Status.ACTIVE
        ):
            if found.etag:
                headers["If-None-Match"] = found.etag
            if found.http_last_modified:
                headers["If-Modified-Since"] = found.http_last_modified
        response = self.fetcher.get(url, headers=headers)
        self.state["fetched"] += 1
        if response.status == 304 and found is not None:
            ScrapedPage.objects.filter(pk=found.pk).update(last_seen_at=timezone.now())
            self.line(
                Action.UNCHANGED, url, "更新されていません（HTTP 304）", title=found.title, page=found.page
            )
            return
        if response.status in (404, 410):
            self.gone(found, url, f"ページがありません（HTTP {response.status}）")
            return
        if response.problem or response.status != 200:
            self.unreadable()
            transient = not response.too_large and "robots" not in response.problem
            reason = response.problem or f"読めませんでした（HTTP {response.status}）"
            self.line(Action.ERROR if transient else Action.SKIPPED, url, reason)
            return
        if not response.is_html:
            self.line(Action.SKIPPED, url, f"HTML のページではありません（{response.content_type}）")
            return
        markup, _encoding = ex.decode_html(response.content, http_charset=response.charset)
        page = ex.extract(markup, url=response.url, http_last_modified=response.last_modified)
        if self.state["mode"] == "crawl":
            self.follow(page.links, response)
        if not self.scope.follows(url):
            self.line(
                Action.SKIPPED,
                url,
                "取り込む範囲の外です（リンクをたどるためだけに読みました）",
                title=page.title,
            )
            return
        if page.noindex:
            self.gone(found, url, "検索されたくないページです（noindex）")
            return
        if not page.title or not page.text.strip():
            self.line(Action.SKIPPED, url, "タイトルか本文が見つかりません", title=page.title)
            return
        if len(response.url) > 1000:
            self.line(Action.SKIPPED, url, "URL が長すぎます（1000文字まで）", title=page.title)
            return
        self.save(url, response, page)

    def unreadable(self) -> None:
        """A page could not be read: when following links, the pages only it links to are unknown,
        so no page counts as gone this run."""
        if self.state["mode"] == "crawl":
            self.state["complete"] = False

    def follow(self, links: list[str], response: Response) -> None:
        known: list[str] = self.state["known"]
        queue: list[str] = self.state["queue"]
        seen = set(known)
        for redirected in (*response.redirects, response.url):
            seen.add(redirected)
        for link in links:
            if link not in seen and self.scope.follows(link) and len(known) < MAX_KNOWN_URLS:
                seen.add(link)
                known.append(link)
                queue.append(link)

    def parent(self) -> Page:
        if self._parent is None:
            self._parent = target_parent(self.source)
        return self._parent

    def save(self, url: str, response: Response, page: ex.Extracted) -> None:
        """Create, update or leave the answer page of ``url`` (one transaction)."""
        digest = ex.content_hash(title=page.title, text=page.text, url=response.url)
        phrasings = "\n".join(page.headings)
        body = answer_body(title=page.title, text=page.text, url=response.url, modified=page.modified)
        with transaction.atomic():
            scraped, _ = ScrapedPage.objects.select_for_update().get_or_create(source=self.source, url=url)
            answer = AnswerPage.objects.filter(pk=scraped.page_id).first() if scraped.page_id else None
            was_gone = scraped.status == ScrapedPage.Status.GONE
            if answer is None:
                answer = AnswerPage(
                    title=page.title,
                    slug=_slug(self.parent(), url),
                    body=body,
                    source_url=response.url,
                    source_modified=page.modified,
                    phrasings=phrasings,
                    live=False,
                )
                self.parent().add_child(instance=answer)
                revision = answer.save_revision(log_action="wagtail.create")
                action, reason = Action.CREATED, self.release(answer, revision)
            elif scraped.content_hash == digest:
                if was_gone:
                    revision = answer.get_latest_revision() or answer.save_revision(log_action=True)
                    action, reason = Action.UPDATED, "再び見つかりました。" + self.release(answer, revision)
                else:
                    action, reason = Action.UNCHANGED, "内容は変わっていません"
            else:
                latest = answer.get_latest_revision_as_object()
                latest.title = page.title
                latest.body = body
                latest.source_url = response.url
                latest.source_modified = page.modified
                if latest.phrasings == scraped.phrasings:  # staff's own phrasings are kept
                    latest.phrasings = phrasings
                revision = latest.save_revision(log_action=True, changed=True)
                # Staff unpublished it (published once, not unpublished by us): their decision stands.
                offline = not answer.live and answer.first_published_at is not None and not was_gone
                action, reason = Action.UPDATED, self.release(answer, revision, keep_draft=offline)
            if action != Action.UNCHANGED:
                scraped.content_hash = digest
                scraped.phrasings = phrasings
            scraped.page = answer
            scraped.title = page.title
            scraped.etag = response.etag[:200]
            scraped.http_last_modified = response.last_modified[:100]
            scraped.last_modified = page.modified
            scraped.last_seen_at = timezone.now()
            scraped.status = ScrapedPage.Status.ACTIVE
            scraped.save()
            self.line(action, url, reason, title=page.title, page=answer)

    def release(self, answer: AnswerPage, revision: Any, *, keep_draft: bool = False) -> str:
        """Publish the new revision, or submit it for approval; say which."""
        if keep_draft:
            return "職員が非公開にしているため、下書きとして保存しました"
        if self.source.auto_publish:
            revision.publish(user=None)
            return "公開しました"
        if answer.workflow_in_progress:
            return "承認待ちの内容を新しくしました（承認されると公開されます）"
        workflow = answer.get_workflow()
        if workflow is None:
            return "下書きとして保存しました（承認のワークフローがありません）"
        workflow.start(answer, None)
        return "承認を依頼しました（承認されると公開されます）"

    def gone(self, found: ScrapedPage | None, url: str, reason: str) -> None:
        """The page is not there any more (or may not be read): unpublish its answer, keep it."""
        if found is not None and found.page_id is None:
            ScrapedPage.objects.filter(pk=found.pk).update(status=ScrapedPage.Status.GONE)
        if found is None or found.page_id is None:
            self.line(Action.SKIPPED, url, reason)
            return
        with transaction.atomic():
            ScrapedPage.objects.filter(pk=found.pk).update(status=ScrapedPage.Status.GONE)
            answer = AnswerPage.objects.filter(pk=found.page_id).first()
            if answer is not None and (waiting := answer.current_workflow_state) is not None:
                waiting.cancel(user=None)  # an approval would publish a page that is gone
            if answer is not None and answer.live:
                answer.unpublish(user=None)
                self.line(
                    Action.UNPUBLISHED,
                    url,
                    f"{reason}。回答を非公開にしました",
                    title=found.title,
                    page=answer,
                )
            else:
                self.line(
                    Action.SKIPPED, url, f"{reason}（回答はすでに非公開です）", title=found.title, page=answer
                )

    # -- the end ---------------------------------------------------------------------------------

    def finish(self) -> None:
        """Unpublish the answers of pages no longer listed, when the listing is complete."""
        # A sitemap lists every page even when the page limit stopped the reading; links followed do not.
        limited = self.state.get("limited") and self.state.get("mode") == "crawl"
        complete = self.state.get("complete") and not limited
        known = set(self.state.get("known", []))
        if complete and known:
            missing = ScrapedPage.objects.filter(source=self.source, status=ScrapedPage.Status.ACTIVE)
            for scraped in missing.select_related("page").order_by("pk"):
                if scraped.url not in known:
                    self.gone(scraped, scraped.url, "サイトマップ（またはリンク）に見つかりません")
                    self.heartbeat()
        elif not complete:
            self.run.message = (
                "ページ数の上限に達したため、なくなったページの確認はしていません。"
                if limited
                else "読めなかった一覧やページがあったため、なくなったページの確認はしていません。"
            )
        self.state = {
            key: self.state[key] for key in ("mode", "fetched", "complete", "limited") if key in self.state
        }


def _problem(response: Response) -> str:
    return response.problem or f"HTTP {response.status}"


def summary(run: ScrapeRun) -> str:
    """The run's counts in a line."""
    return (
        f"新規 {run.created_count}・更新 {run.updated_count}・変更なし {run.unchanged_count}・"
        f"非公開 {run.unpublished_count}・スキップ {run.skipped_count}・エラー {run.error_count}"
    )


def _work(run: ScrapeRun, *, time_budget: float | None) -> ScrapeRun:
    """Work on ``run`` (already marked ``in_step``) for one step."""
    run.stepped = True
    step: _Step | None = None
    try:
        step = _Step(run, time_budget=time_budget)
        with step.fetcher:
            step.discover()
            done = step.process()
            if not done:
                step.run.in_step = False
                step.save_progress()
                return run
            step.finish()
        run.state = step.state
        return _close(run, ScrapeRun.Status.FINISHED)
    except FetchError as error:
        if step is not None:
            run.state = step.state
        return _close(run, ScrapeRun.Status.FAILED, str(error))
    except _ClaimLost:
        if step is not None:
            run.state = step.state
        return _close(run, ScrapeRun.Status.INTERRUPTED, "別の取り込みが引き継いだため中断しました。")
    except Exception as error:
        logger.exception("scraper: run %s failed", run.pk)
        return _close(
            run, ScrapeRun.Status.FAILED, f"予期しないエラーで止まりました（{type(error).__name__}: {error}）"
        )


# --- the entry points ---------------------------------------------------------------------------------


def run_sync(
    *,
    source_id: int,
    trigger: str = ScrapeRun.Trigger.SCHEDULE,
    run_id: int | None = None,
    user: Any = None,
    time_budget: float | None = None,
) -> ScrapeRun:
    """Start a run of the source (``run_id``: the queued run of 「今すぐ取り込む」) and work on it for
    one step (``time_budget`` seconds; None: to the end). A run that is not finished afterwards
    (status 取り込み中, not ``in_step``) continues with ``continue_run``."""
    source = ScrapeSource.objects.get(pk=source_id)
    if run_id is None:
        run = ScrapeRun.objects.create(
            source=source, source_name=source.name, trigger=trigger, requested_by=user if user else None
        )
    else:
        run = ScrapeRun.objects.get(pk=run_id, source=source)
    now = timezone.now()
    # Only one task starts a queued run (Django-Q may deliver a task twice).
    started = ScrapeRun.objects.filter(pk=run.pk, status=ScrapeRun.Status.QUEUED).update(
        status=ScrapeRun.Status.RUNNING, started_at=now, step=1, in_step=True
    )
    run.refresh_from_db()
    if not started:
        return run
    if not _claim(source, run):
        run.in_step = False
        run.status = ScrapeRun.Status.SKIPPED
        run.finished_at = timezone.now()
        run.message = "同じ取り込み設定の取り込みが実行中のため、実行しませんでした。"
        run.save(update_fields=["status", "in_step", "finished_at", "message"])
        return run
    return _work(run, time_budget=time_budget)


def continue_run(*, run_id: int, step: int, time_budget: float | None = None) -> ScrapeRun:
    """Take step ``step + 1`` of a run that paused after step ``step`` (a repeated task does nothing)."""
    taken = ScrapeRun.objects.filter(
        pk=run_id, status=ScrapeRun.Status.RUNNING, step=step, in_step=False
    ).update(step=step + 1, in_step=True)
    run = ScrapeRun.objects.select_related("source").get(pk=run_id)
    if not taken:
        return run
    if run.source is None or run.source.current_run_id != run.pk:
        return _close(run, ScrapeRun.Status.INTERRUPTED, "別の取り込みが引き継いだため中断しました。")
    ScrapeSource.objects.filter(pk=run.source.pk, current_run=run).update(heartbeat_at=timezone.now())
    return _work(run, time_budget=time_budget)


def request_run(*, source_id: int, user: Any) -> ScrapeRun:
    """「今すぐ取り込む」: a queued run of the source and its task (refused while one is waiting or
    running). Logged in the operation log."""
    with transaction.atomic():
        source = ScrapeSource.objects.select_for_update().get(pk=source_id)
        recent = timezone.now() - STALE_AFTER
        waiting = ScrapeRun.objects.filter(
            source=source, status=ScrapeRun.Status.QUEUED, created_at__gt=recent
        )
        busy = (
            source.current_run_id is not None
            and source.heartbeat_at is not None
            and source.heartbeat_at > recent
        )
        if waiting.exists() or busy:
            raise ScrapeError(
                f"「{source.name}」はいま取り込み中です。終わってから、もう一度お試しください。"
            )
        run = ScrapeRun.objects.create(
            source=source, source_name=source.name, trigger=ScrapeRun.Trigger.MANUAL, requested_by=user
        )
        record(
            action="scraper.run_requested",
            user=user,
            instance=run,
            object_label=f"{source.name}（今すぐ取り込む）",
            data={"source": source.pk},
        )
        transaction.on_commit(
            lambda: async_task(SYNC_TASK, source.pk, ScrapeRun.Trigger.MANUAL, run.pk, group="scraper")
        )
    return run


def step_seconds() -> float:
    """How long one task works on a run: half the cluster's timeout (a page read can take a minute)."""
    timeout = float(getattr(settings, "Q_CLUSTER", {}).get("timeout") or 300)
    return max(10.0, timeout / 2)
