"""URLs of the LIFF machinery, included under ``liff/`` (after My Page, ``residents.urls_mypage``,
whose ``/liff/`` is the LIFF app's endpoint URL): ``https://liff.line.me/{liffId}/path`` opens
``/liff/path``."""

from django.urls import path

from line_channel import views_liff

urlpatterns = [
    path("session/", views_liff.start_session, name="liff_session"),
    path("session/end/", views_liff.end_session, name="liff_session_end"),
    # https://liff.line.me/{liffId}/<path>: any page of the site (a form) opened inside LINE.
    path("<path:path>", views_liff.site_page, name="liff_site_page"),
]
