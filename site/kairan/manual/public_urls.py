"""Manual pages marked ``public: yes`` at /manual/<slug>/, for people not logged in yet."""

from django.urls import path

from kairan.manual import views

app_name = "kairan_manual_public"

urlpatterns = [
    path("<slug:slug>/", views.public_page, name="page"),
]
