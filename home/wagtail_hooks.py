"""Wagtail admin hooks of the home app: those of the form foundation (``home.forms``)."""

from home.forms import wagtail_hooks as forms_hooks  # noqa: F401 - registers the hooks
