"""「テスターに送る」: an answer page's latest revision (a draft too) to every tester's LINE.

Posted by the page editor's action menu (with the edit form's token) and by the scenario map. Each
tester gets one push per page revision: the outbox item's purpose names the page, the revision and
the tester, so a double submit (or a second click) queues nothing more. Taps inside the test carry
``draft=1``, so testers (and only testers) see the drafts of the pages it leads to.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from chatbot.line_messages import answer_messages, structure_errors
from chatbot.models import AnswerPage, ChatbotSettings
from chatbot.views import answer_page_or_404, live_top_id, next_url
from kairan.core.crypto import line_user_hash

ACTION = "kairan.chatbot.test_send"
NO_TESTERS = "テスターがいません。「配信 → テスター」で、職員の LINE アカウントをテスターに登録してください。"


class SendError(Exception):
    """Why nothing was sent (the message is Japanese)."""


def purpose(page: AnswerPage, revision_id: int, user_id: str) -> str:
    return f"chatbot-test:{page.pk}:{revision_id}:{line_user_hash(user_id)[:16]}"


def send_to_testers(*, page: AnswerPage, user: Any) -> tuple[int, int]:
    """Queue the page's latest revision to each tester; (queued now, already sent before)."""
    from deliveries.models import Tester
    from kairan.oplog import context
    from kairan.oplog.services import record
    from line_channel.models import OutboxItem
    from line_channel.outbox import enqueue_push

    recipients = Tester.line_user_ids()
    if not recipients:
        raise SendError(NO_TESTERS)
    shown = page.get_latest_revision_as_object()
    if problems := structure_errors(shown):
        raise SendError("このページは LINE に送れません: " + " ".join(problems))
    try:
        line_messages = answer_messages(shown, top_id=live_top_id(ChatbotSettings.load()), draft=True)
    except ValidationError as error:
        raise SendError("このページは LINE に送れません: " + " ".join(error.messages)) from error
    if not line_messages:
        raise SendError("このページには送るメッセージがありません。")
    revision_id = page.latest_revision_id or 0
    queued: list[OutboxItem] = []
    with transaction.atomic():
        # (one sender per page at a time, so two clicks cannot both find nothing sent yet)
        AnswerPage.objects.select_for_update().filter(pk=page.pk).values_list("pk", flat=True).first()
        for user_id in recipients:
            key = purpose(page, revision_id, user_id)
            if OutboxItem.objects.filter(purpose=key).exists():
                continue
            queued.append(enqueue_push(to=user_id, messages=line_messages, purpose=key))
        if queued:
            record(
                action=ACTION,
                user=user,
                instance=page,
                data={"revision": revision_id, "testers": len(queued), "messages": len(line_messages)},
            )
            # (the outbox rows are this entry's doing: not logged once more as 作成 each)
            if (current := context.current()) is not None:
                current.logged_objects.update(("line_channel.outboxitem", str(item.pk)) for item in queued)
    return len(queued), len(recipients) - len(queued)


@require_POST
def send_test(request: HttpRequest, pk: int) -> HttpResponse:
    """POST: send, then back to where the button was (the editor by default)."""
    page = answer_page_or_404(pk)
    if not page.permissions_for_user(request.user).can_edit():
        raise PermissionDenied
    back = HttpResponseRedirect(next_url(request, reverse("wagtailadmin_pages:edit", args=[page.pk])))
    try:
        queued, before = send_to_testers(page=page, user=request.user)
    except SendError as error:
        messages.error(request, str(error))
        return back
    title = page.get_admin_display_title()
    if queued:
        messages.success(
            request,
            f"「{title}」の最新の内容（下書きを含む）をテスター {queued} 人に送りました。"
            "テスターの LINE で、ボタンを押して先の回答も確かめてください。",
        )
    else:
        messages.info(
            request,
            f"「{title}」のこの版は、テスター {before} 人にもう送ってあります。"
            "内容を直して保存すると、もう一度送れます。",
        )
    return back
