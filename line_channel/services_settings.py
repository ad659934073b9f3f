"""Named operations of the LINE連携設定 screen: the connection test and the webhook registration.

Both talk to LINE through the gateway with the stored (encrypted) channel
settings, never hold a database transaction across the network call, log
themselves in the operation log and return a result whose ``message`` is what
staff read (Japanese, with LINE's own error text so a support desk can search
it).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.utils import timezone

from kairan.oplog.services import record
from line_channel.gateway import Gateway, LineApiError
from line_channel.models import LineChannelSettings
from line_channel.ratelimit import RateLimited

# Where Kairan receives LINE's webhooks (line_channel.webhook); LINE gets <KAIRAN_BASE_URL> + this.
WEBHOOK_PATH = "/line/webhook/"
# An interactive check should not keep a staff member waiting through the full retry budget.
INTERACTIVE_ATTEMPTS = 2

CONNECTION_TEST = "line.connection_test"
WEBHOOK_REGISTER = "line.webhook_register"


@dataclass(frozen=True)
class ConnectionResult:
    ok: bool
    message: str
    display_name: str = ""
    basic_id: str = ""
    bot_user_id: str = ""
    webhook_url: str = ""
    webhook_active: bool | None = None
    warnings: list[str] = field(default_factory=list)
    error: LineApiError | None = None


@dataclass(frozen=True)
class WebhookResult:
    ok: bool
    message: str
    url: str
    registered: bool = False
    status_code: int | None = None
    reason: str = ""
    detail: str = ""
    warnings: list[str] = field(default_factory=list)
    error: LineApiError | None = None


def configure_channel(
    *,
    channel_id: str | None = None,
    channel_secret: str | None = None,
    access_token: str | None = None,
    login_channel_id: str | None = None,
    liff_id: str | None = None,
    user: Any = None,
    username: str = "",
) -> list[str]:
    """Store the given channel values (None: keep); log which fields changed, never their values."""
    config = LineChannelSettings.load()
    given = {
        "channel_id": channel_id,
        "channel_secret": channel_secret,
        "access_token": access_token,
        "login_channel_id": login_channel_id,
        "liff_id": liff_id,
    }
    changed = []
    for name, value in given.items():
        if value is None:
            continue
        value = "".join(value.split())
        if name in ("channel_id", "login_channel_id") and value and not value.isdigit():
            raise ValueError(f"{name} must be digits, got {value!r}")
        if value != (getattr(config, name) or ""):
            setattr(config, name, value)
            changed.append(name)
    if changed:
        config.save()
        record(
            action="kairan.settings.update",
            user=user,
            username=username,
            instance=config,
            is_setting=True,
            data={"fields": changed},
        )
    return changed


def webhook_url_for(base_url: str) -> str:
    return base_url.rstrip("/") + WEBHOOK_PATH


def explain(error: LineApiError) -> str:
    """LINE's error in Japanese: what probably went wrong, then LINE's own words."""
    if error.status == 0:
        hint = (
            "LINE のサーバーに接続できませんでした。サーバーからインターネット（api.line.me）へ"
            "接続できるか、プロキシやファイアウォールの設定を確認してください。"
        )
    elif error.status == 401:
        hint = (
            "チャネルアクセストークンが正しくありません。LINE Developers コンソールの"
            "「Messaging API設定」で発行した長期のトークンを、もう一度貼り付けて保存してください。"
        )
    elif error.status == 403:
        hint = "このチャネルでは使えない機能です（プランや権限を確認してください）。"
    elif error.status == 429:
        hint = "LINE への要求が多すぎます。しばらく待ってから、もう一度お試しください。"
    elif error.status >= 500:
        hint = "LINE 側で障害が起きている可能性があります。しばらく待ってから、もう一度お試しください。"
    elif any(d.get("property") == "endpoint" for d in error.details):
        hint = (
            "Webhook URL が LINE に受け付けられませんでした。KAIRAN_BASE_URL が https:// で始まる、"
            "インターネットから届くアドレスになっているか確認してください。"
        )
    else:
        hint = "LINE が要求を受け付けませんでした。"
    line_words = f"LINE の応答: {error.status or '応答なし'} {error.message}"
    if error.details:
        line_words += (
            "（" + "、".join(f"{d.get('property', '')}: {d.get('message', '')}" for d in error.details) + "）"
        )
    if error.request_id:
        line_words += f" [リクエストID {error.request_id}]"
    return f"{hint} {line_words}"


def _rate_limited(exc: RateLimited) -> LineApiError:
    return LineApiError(429, f"Kairan's own rate limit for {exc.endpoint}; retry in {exc.retry_after:.0f} s")


def _missing(config: LineChannelSettings, names: tuple[str, ...]) -> list[str]:
    labels = {
        "channel_id": "チャネルID",
        "channel_secret": "チャネルシークレット",
        "access_token": "チャネルアクセストークン",
    }
    return [labels[name] for name in names if not getattr(config, name)]


def _not_configured(missing: list[str]) -> str:
    return f"{'・'.join(missing)}が未設定です。入力して「保存」してから、もう一度お試しください。"


def _webhook_warnings(current_url: str, active: bool | None, expected: str | None) -> list[str]:
    warnings = []
    if expected is not None and current_url != expected:
        shown = current_url or "（未設定）"
        warnings.append(
            f"LINE に登録されている Webhook URL（{shown}）が Kairan の受信用 URL（{expected}）と"
            "異なります。「Webhook URL を設定してテスト」を押してください。"
        )
    if current_url and active is False:
        warnings.append(
            "LINE Developers コンソールの「Messaging API設定」で「Webhookの利用」がオフになっています。"
            "オンにしないと、友だち追加やメッセージが Kairan に届きません。"
        )
    return warnings


def test_connection(
    *, user: Any = None, username: str = "", expected_webhook_url: str | None = None
) -> ConnectionResult:
    """Ask LINE for the bot's info with the stored token; keep it on the settings and log the check.

    When ``expected_webhook_url`` is given, the webhook endpoint registered at LINE
    is compared with it and a mismatch (or a webhook switched off) is reported.
    """
    config = LineChannelSettings.load()
    missing = _missing(config, ("access_token",))
    if missing:
        result = ConnectionResult(ok=False, message=_not_configured(missing))
        record(
            action=CONNECTION_TEST,
            user=user,
            username=username,
            instance=config,
            data={"ok": False, "missing": missing},
        )
        return result
    try:
        with Gateway.from_settings(attempts=INTERACTIVE_ATTEMPTS) as gateway:
            info = gateway.bot_info()
            try:
                endpoint = gateway.webhook_endpoint()
            except LineApiError:
                endpoint = {}
    except RateLimited as exc:
        error = _rate_limited(exc)
        return _connection_failed(config, user, username, error)
    except LineApiError as error:
        return _connection_failed(config, user, username, error)

    config.bot_user_id = str(info.get("userId") or "")[:40]
    config.basic_id = str(info.get("basicId") or "")[:40]
    config.bot_display_name = str(info.get("displayName") or "")[:100]
    config.checked_at = timezone.now()
    config.save(update_fields=["bot_user_id", "basic_id", "bot_display_name", "checked_at"])
    current_url = str(endpoint.get("endpoint") or "")
    active = endpoint.get("active") if endpoint else None
    warnings = _webhook_warnings(current_url, active, expected_webhook_url) if endpoint else []
    message = (
        f"LINE に接続できました。アカウント名: {config.bot_display_name}、"
        f"ベーシックID: {config.basic_id}、ボットのユーザーID: {config.bot_user_id}。"
    )
    record(
        action=CONNECTION_TEST,
        user=user,
        username=username,
        instance=config,
        data={
            "ok": True,
            "basic_id": config.basic_id,
            "bot_user_id": config.bot_user_id,
            "webhook_url": current_url,
            "webhook_active": active,
        },
    )
    return ConnectionResult(
        ok=True,
        message=message,
        display_name=config.bot_display_name,
        basic_id=config.basic_id,
        bot_user_id=config.bot_user_id,
        webhook_url=current_url,
        webhook_active=active if isinstance(active, bool) else None,
        warnings=warnings,
    )


def _connection_failed(
    config: LineChannelSettings, user: Any, username: str, error: LineApiError
) -> ConnectionResult:
    record(
        action=CONNECTION_TEST,
        user=user,
        username=username,
        instance=config,
        data={"ok": False, "status": error.status, "error": str(error), "request_id": error.request_id},
    )
    return ConnectionResult(ok=False, message="LINE に接続できませんでした。" + explain(error), error=error)


def _test_failure_hint(status: int, reason: str) -> str:
    if status == 0 and "timeout" in reason.lower():
        return "Kairan の応答が遅すぎました。サーバーの負荷を確認してください。"
    if status == 0:
        return (
            "LINE から Kairan に接続できませんでした。KAIRAN_BASE_URL がインターネットから届く"
            "アドレスか、ファイアウォールやリバースプロキシの設定を確認してください。"
        )
    if status in (400, 401, 403):
        return (
            "Kairan が LINE からの通知の署名を確かめられませんでした。チャネルシークレットが"
            "LINE Developers コンソールの「チャネル基本設定」の値と同じか確認してください。"
        )
    if status == 404:
        return "Kairan の受信用アドレスが見つかりませんでした。KAIRAN_BASE_URL を確認してください。"
    if status >= 500:
        return "Kairan 側でエラーが起きました。サーバーのログ（var/log/web.log）を確認してください。"
    return "Kairan が想定外の応答をしました。"


def register_webhook(*, base_url: str, user: Any = None, username: str = "") -> WebhookResult:
    """Set the channel's webhook URL to ``<base_url>/line/webhook/`` at LINE, then run LINE's webhook test."""
    config = LineChannelSettings.load()
    url = webhook_url_for(base_url)
    missing = _missing(config, ("channel_secret", "access_token"))
    if missing:
        record(
            action=WEBHOOK_REGISTER,
            user=user,
            username=username,
            instance=config,
            data={"ok": False, "missing": missing},
        )
        return WebhookResult(ok=False, message=_not_configured(missing), url=url)
    registered = False
    try:
        with Gateway.from_settings(attempts=INTERACTIVE_ATTEMPTS) as gateway:
            gateway.set_webhook_endpoint(url)
            registered = True
            outcome = gateway.test_webhook_endpoint()
            try:
                endpoint = gateway.webhook_endpoint()
            except LineApiError:
                endpoint = {}
    except (LineApiError, RateLimited) as exc:
        error = _rate_limited(exc) if isinstance(exc, RateLimited) else exc
        record(
            action=WEBHOOK_REGISTER,
            user=user,
            username=username,
            instance=config,
            data={
                "ok": False,
                "url": url,
                "registered": registered,
                "status": error.status,
                "error": str(error),
            },
        )
        prefix = (
            f"Webhook URL は {url} に設定しましたが、LINE の Webhook テストを実行できませんでした。"
            if registered
            else f"Webhook URL（{url}）を LINE に設定できませんでした。"
        )
        return WebhookResult(
            ok=False, message=prefix + explain(error), url=url, registered=registered, error=error
        )

    success = bool(outcome.get("success"))
    status = int(outcome.get("statusCode") or 0)
    reason = str(outcome.get("reason") or "")
    detail = str(outcome.get("detail") or "")
    active = endpoint.get("active") if endpoint else None
    warnings = _webhook_warnings(str(endpoint.get("endpoint") or ""), active, url) if endpoint else []
    record(
        action=WEBHOOK_REGISTER,
        user=user,
        username=username,
        instance=config,
        data={
            "ok": success,
            "url": url,
            "registered": True,
            "success": success,
            "statusCode": status,
            "reason": reason,
            "detail": detail,
            "active": active,
        },
    )
    line_words = f"LINE のテスト結果: success={str(success).lower()}、statusCode={status}、reason={reason}"
    if detail:
        line_words += f"、detail={detail}"
    if success:
        message = (
            f"Webhook URL を {url} に設定しました。LINE からのテスト送信に Kairan が正しく応答しました。"
            f"（{line_words}）"
        )
    else:
        message = (
            f"Webhook URL は {url} に設定しましたが、LINE からのテスト送信は失敗しました。"
            f"{_test_failure_hint(status, reason)}（{line_words}）"
        )
    return WebhookResult(
        ok=success,
        message=message,
        url=url,
        registered=True,
        status_code=status,
        reason=reason,
        detail=detail,
        warnings=warnings,
    )
