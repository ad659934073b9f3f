"""Admin views for form submissions: the listing with spreadsheet export, and private photos."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from wagtail.contrib.forms.utils import get_forms_for_user
from wagtail.contrib.forms.views import SubmissionsListView

from home.forms.answers import Column, columns_for_page, export_value
from kairan.core.crypto import decrypt_bytes
from kairan.core.export_views import SpreadsheetExportViewMixin
from kairan.oplog.services import record_personal_view


def _local_time(value: Any) -> str:
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def _exporter(column: Column) -> Any:
    return lambda submission: export_value(column, submission)


class FormSubmissionsListView(SpreadsheetExportViewMixin, SubmissionsListView):
    """Wagtail's submissions listing, decrypted, with Kairan's CSV (UTF-8/CP932) and XLSX export."""

    def dispatch(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        page = kwargs["form_page"]
        self.answer_columns = columns_for_page(page)  # once per request, for every row
        self.export_name = f"フォームの回答（{page.title}）"
        self.export_filename_stem = f"form-{page.slug}"
        self.export_columns = [
            ("回答番号", lambda s: s.pk),
            ("送信日時", lambda s: _local_time(s.submit_time)),
            *((column.heading, _exporter(column)) for column in self.answer_columns),
        ]
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context: dict[str, Any] = super().get_context_data(**kwargs)
        if not self.is_export:  # the export logs itself
            page = self.kwargs["form_page"]
            record_personal_view(
                request=self.request, label=f"フォームの回答（{page.title}）", object_id=str(page.pk)
            )
        return context

    def paginate_queryset(self, queryset: Any, page_size: int) -> Any:
        paginator, page, submissions, is_paginated = super().paginate_queryset(queryset, page_size)
        # Evaluates the page's queryset; Wagtail then iterates the same (cached) objects.
        for submission in submissions:
            submission.answer_columns = self.answer_columns
        return paginator, page, submissions, is_paginated


def photo(request: HttpRequest, submission_id: int, key: str, index: int) -> HttpResponse:
    """One photo of a submission, decrypted, for staff who may read the form's submissions."""
    from home.forms.models import FormPageSubmission, photo_context, private_storage

    submission = get_object_or_404(FormPageSubmission, pk=submission_id)
    if not get_forms_for_user(request.user).filter(pk=submission.page_id).exists():
        raise PermissionDenied
    photos = submission.answers.get(key)
    if not isinstance(photos, list) or not 0 <= index < len(photos):
        raise Http404
    item = photos[index]
    name = str(item.get("file", ""))
    storage = private_storage()
    if not name or not storage.exists(name):
        raise Http404
    with storage.open(name, "rb") as handle:
        data = decrypt_bytes(handle.read(), context=photo_context(name))
    content_type = (
        item.get("type") if item.get("type") in ("image/jpeg", "image/png") else "application/octet-stream"
    )
    record_personal_view(
        request=request,
        label="フォームの回答の写真",
        object_id=str(submission.pk),
        data={"key": key, "index": index},
    )
    response = HttpResponse(data, content_type=content_type)
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Disposition"] = "inline"
    return response
