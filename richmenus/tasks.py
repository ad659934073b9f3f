"""Django-Q tasks of リッチメニュー (each may run twice: ``richmenus.publish`` is idempotent)."""

from __future__ import annotations

from richmenus import publish as publishing


def publish(menu_set_id: int, revision_id: int) -> str:
    return publishing.publish(menu_set_id=menu_set_id, revision_id=revision_id)


def retire() -> str:
    return publishing.retire()
