"""In-admin manual URLs, mounted under /admin/manual/ by the register_admin_urls hook."""

from django.urls import path

from kairan.manual import views

app_name = "kairan_manual"

urlpatterns = [
    path("", views.IndexView.as_view(), name="index"),
    # "search" is not a manual page: file names are slugs, and this route comes first.
    path("search/", views.SearchView.as_view(), name="search"),
    path("<slug:slug>/", views.PageView.as_view(), name="page"),
]
