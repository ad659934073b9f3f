"""The 配信の承認 workflow: one step, 承認者 other than the author, assigned to deliveries."""

from typing import Any

from django.db import migrations

WORKFLOW = "配信の承認"
TASK = "承認者による承認（作成者以外）"
APPROVER = "承認者"


def create_workflow(apps: Any, schema_editor: Any) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Group = apps.get_model("auth", "Group")
    Workflow = apps.get_model("wagtailcore", "Workflow")
    WorkflowTask = apps.get_model("wagtailcore", "WorkflowTask")
    WorkflowContentType = apps.get_model("wagtailcore", "WorkflowContentType")
    DeliveryApprovalTask = apps.get_model("deliveries", "DeliveryApprovalTask")

    task_type, _ = ContentType.objects.get_or_create(app_label="deliveries", model="deliveryapprovaltask")
    delivery_type, _ = ContentType.objects.get_or_create(app_label="deliveries", model="delivery")
    task = DeliveryApprovalTask.objects.filter(name=TASK).first()
    if task is None:
        task = DeliveryApprovalTask.objects.create(name=TASK, content_type=task_type, active=True)
    approvers, _ = Group.objects.get_or_create(name=APPROVER)
    task.groups.add(approvers)
    workflow, _ = Workflow.objects.get_or_create(name=WORKFLOW, defaults={"active": True})
    WorkflowTask.objects.get_or_create(workflow=workflow, task=task, defaults={"sort_order": 0})
    WorkflowContentType.objects.update_or_create(content_type=delivery_type, defaults={"workflow": workflow})


class Migration(migrations.Migration):
    dependencies = [
        ("deliveries", "0001_initial"),
        ("staff", "0002_roles"),
        ("wagtailcore", "0098_apitoken"),
    ]

    operations = [migrations.RunPython(create_workflow, migrations.RunPython.noop)]
