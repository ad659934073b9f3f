"""Create the staff roles as Wagtail groups.

Wagtail's own migrations create the groups "Editors" and "Moderators" and give
"Moderators" the approval step of the default moderation workflow. We rename
them to 担当者 and 承認者 so that workflow belongs to 承認者, and take away the
tree-wide page and collection rights "Editors" had: 担当者 edit only what
their department (部署) groups allow. Baseline model permissions are applied
after migrate by kairan.staff.permissions.sync_role_permissions.
"""

from django.db import migrations

ROLES = ("システム管理者", "承認者", "担当者", "閲覧者")
RENAMES = {"Moderators": "承認者", "Editors": "担当者"}


def create_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    GroupPagePermission = apps.get_model("wagtailcore", "GroupPagePermission")
    GroupCollectionPermission = apps.get_model("wagtailcore", "GroupCollectionPermission")
    for old, new in RENAMES.items():
        if not Group.objects.filter(name=new).exists():
            Group.objects.filter(name=old).update(name=new)
    for name in ROLES:
        Group.objects.get_or_create(name=name)
    editors = Group.objects.get(name="担当者")
    GroupPagePermission.objects.filter(group=editors).delete()
    GroupCollectionPermission.objects.filter(group=editors).delete()


def remove_roles(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    Group.objects.filter(name__in=["システム管理者", "閲覧者"]).delete()
    for old, new in RENAMES.items():
        Group.objects.filter(name=new).update(name=old)


class Migration(migrations.Migration):
    dependencies = [
        ("staff", "0001_initial"),
        ("auth", "__latest__"),
        ("wagtailcore", "__latest__"),
        ("wagtailimages", "__latest__"),
        ("wagtaildocs", "__latest__"),
        ("wagtailadmin", "__latest__"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
