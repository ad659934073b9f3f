from django.urls import include, path
from wagtail import urls as wagtail_urls
from wagtail.admin import urls as wagtailadmin_urls
from wagtail.documents import urls as wagtaildocs_urls

from kairan.core import views as core_views
from search import views as search_views

urlpatterns = [
    path("healthz", core_views.healthz, name="healthz"),
    path("admin/", include(wagtailadmin_urls)),
    path("documents/", include(wagtaildocs_urls)),
    path("search/", search_views.search, name="search"),
    # Manual pages marked "public: yes" (the login help), readable before logging in.
    path("manual/", include("kairan.manual.public_urls")),
    # Everything else is a Wagtail page; this must stay last.
    path("", include(wagtail_urls)),
]
