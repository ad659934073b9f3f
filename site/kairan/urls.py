from django.conf import settings
from django.urls import include, path, re_path
from django.views.static import serve
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from kairan.core import views as core_views
from line_channel import webhook as line_webhook
from search import views as search_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    # Public images (Wagtail originals and renditions): LINE fetches the images of deliveries from
    # here. Only these two folders; private files (form photos) live outside MEDIA_ROOT. A proxy in
    # front may serve the same folder itself.
    re_path(
        r"^media/(?P<path>(?:original_images|images)/[^/]+)$",
        serve,
        {"document_root": settings.MEDIA_ROOT},
        name="public_media",
    ),
    path("search/", search_views.search, name="search"),
    # Manual pages marked "public: yes" (the login help), readable before logging in.
    path("manual/", include("kairan.manual.public_urls")),
    # LINE posts webhook events here (signed; no CSRF token, no session).
    path("line/webhook/", line_webhook.receive, name="line_webhook"),
    # LIFF pages (opened inside LINE); the LIFF app's endpoint URL is <KAIRAN_BASE_URL>/liff/,
    # which is My Page. The LIFF identity endpoints and any site page under /liff/<path> follow.
    path("liff/", include("residents.urls_mypage")),
    path("liff/", include("line_channel.urls_liff")),
    # Everything else is a Wagtail page; this must stay last.
    path("", include(wagtail_urls)),
]
