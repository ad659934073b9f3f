"""The form foundation: a base form page on Wagtail's form builder (see ``models.BaseFormPage``)."""
