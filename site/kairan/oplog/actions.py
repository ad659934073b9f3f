"""Labels and kinds (種別) of operation-log actions.

Our own actions are listed here; Wagtail's audit actions (``wagtail.*``) take
their label from Wagtail's log action registry and count as writes, or as
settings changes when the object is a Wagtail setting.
"""

from __future__ import annotations

from django.utils.encoding import force_str

from kairan.oplog.models import Category

ACTIONS: dict[str, tuple[str, Category]] = {
    "kairan.login": ("ログイン", Category.AUTH),
    "kairan.logout": ("ログアウト", Category.AUTH),
    "kairan.login_failed": ("ログイン失敗", Category.AUTH),
    "kairan.locked_out": ("ログイン制限（連続失敗）", Category.AUTH),
    "kairan.session_timeout": ("自動ログアウト（無操作）", Category.AUTH),
    "kairan.mfa.enrolled": ("認証アプリの登録", Category.MFA),
    "kairan.mfa.verified": ("二要素認証の成功", Category.MFA),
    "kairan.mfa.failed": ("二要素認証の失敗", Category.MFA),
    "kairan.mfa.reset": ("二要素認証のリセット", Category.MFA),
    "kairan.write.create": ("作成", Category.WRITE),
    "kairan.write.update": ("変更", Category.WRITE),
    "kairan.write.delete": ("削除", Category.WRITE),
    "kairan.admin.post": ("管理画面での送信", Category.WRITE),
    "kairan.settings.update": ("設定の変更", Category.SETTINGS),
    "kairan.export": ("エクスポート", Category.EXPORT),
    "kairan.personal.view": ("市民の個人情報の閲覧", Category.PERSONAL),
    "kairan.personal.export": ("市民の個人情報の書き出し（開示用）", Category.PERSONAL),
    "kairan.oplog.purged": ("保存期間を過ぎたログの削除", Category.SYSTEM),
    "kairan.emergency.on": ("災害モードへの切替", Category.WRITE),
    "kairan.emergency.approved": ("災害モードへの切替の承認", Category.WRITE),
    "kairan.emergency.off": ("災害モードの解除", Category.WRITE),
    "kairan.emergency.step": ("災害モードの処理（LINE）", Category.SYSTEM),
    "scraper.run_requested": ("ホームページ取り込みの実行", Category.WRITE),
    "kairan.chatbot.test_send": ("チャットボットのテスト送信", Category.WRITE),
    "line.connection_test": ("LINE 接続テスト", Category.SETTINGS),
    "line.webhook_register": ("LINE Webhook URL の設定とテスト", Category.SETTINGS),
}


def action_label(action: str) -> str:
    if action in ACTIONS:
        return ACTIONS[action][0]
    if action.startswith("wagtail."):
        from wagtail.log_actions import registry

        label = registry.get_action_label(action)
        if label:
            return force_str(label)
    return action


def category_for(action: str, *, is_setting: bool = False) -> Category:
    if is_setting:
        return Category.SETTINGS
    if action in ACTIONS:
        return ACTIONS[action][1]
    return Category.WRITE


def action_choices() -> list[tuple[str, str]]:
    """Our actions and Wagtail's, for the report filter."""
    from wagtail.log_actions import registry

    choices = [(action, label) for action, (label, _) in ACTIONS.items()]
    choices += [(action, force_str(label)) for action, label in registry.get_choices()]
    return choices
