"""My Page URLs, included under ``liff/`` before the LIFF machinery of ``line_channel.urls_liff``:
``/liff/`` is the LIFF app's endpoint URL, so opening the app opens My Page."""

from django.urls import path

from residents import views_mypage

urlpatterns = [
    path("", views_mypage.mypage, name="mypage"),
    path("agree/", views_mypage.agree, name="mypage_agree"),
    path("terms/", views_mypage.terms, name="mypage_terms"),
    path("settings/delete/", views_mypage.delete_settings, name="mypage_delete_settings"),
    path("withdraw/", views_mypage.withdraw, name="mypage_withdraw"),
]
