"""Django-Q tasks of リッチメニュー (each may run twice: ``richmenus.publish`` is idempotent)."""

from __future__ import annotations

from richmenus import publish as publishing


def publish(menu_set_id: int, revision_id: int) -> str:
    return publishing.publish(menu_set_id=menu_set_id, revision_id=revision_id)


def unpublish(menu_set_id: int) -> str:
    return publishing.unpublish(menu_set_id=menu_set_id)


def sync_segment_links() -> str:
    return publishing.sync_segment_links()


def retire() -> str:
    return publishing.retire()


def apply_emergency(switch_id: int) -> str:
    from richmenus import emergency

    return emergency.apply(switch_id)


def revert_emergency(switch_id: int) -> str:
    from richmenus import emergency

    return emergency.revert(switch_id)


def tick() -> dict[str, object]:
    """Every minute: carry on with 災害モード steps waiting for LINE, and retire replaced menus."""
    from richmenus import emergency

    return {"emergency": emergency.resume(), "retired": publishing.retire()}


def every_second() -> None:
    """The cluster's ticker: scheduled 災害モード switches start (and end) on time."""
    from richmenus import emergency

    emergency.run_due()
