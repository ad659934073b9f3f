"""Two-factor authentication (TOTP) operations. Views stay thin and call these."""

from __future__ import annotations

import enum
from typing import Any

import qrcode
import qrcode.image.svg
from django.db import transaction
from django.http import HttpRequest
from django_otp import devices_for_user
from django_otp import login as otp_login
from django_otp.plugins.otp_totp.models import TOTPDevice

from kairan.oplog.services import record

DEVICE_NAME = "認証アプリ"


class Outcome(enum.Enum):
    OK = "ok"
    WRONG = "wrong"
    THROTTLED = "throttled"


def confirmed_totp_device(*, user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def start_totp_enrollment(*, user: Any) -> TOTPDevice:
    """The user's pending (unconfirmed) authenticator, created on first call."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False).first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name=DEVICE_NAME, confirmed=False)
    return device


def _check(device: TOTPDevice, token: str) -> Outcome:
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return Outcome.THROTTLED
    return Outcome.OK if device.verify_token(token) else Outcome.WRONG


@transaction.atomic
def confirm_totp_enrollment(*, request: HttpRequest, device: TOTPDevice, token: str) -> Outcome:
    """Confirm a pending authenticator with its first code and sign the session in with it."""
    outcome = _check(device, token)
    if outcome is Outcome.OK:
        device.confirmed = True
        device.save(update_fields=["confirmed"])
        TOTPDevice.objects.filter(user=device.user, confirmed=True).exclude(pk=device.pk).delete()
        otp_login(request, device)
        record(action="kairan.mfa.enrolled", user=device.user, instance=device.user, request=request)
    else:
        record(action="kairan.mfa.failed", user=device.user, request=request, data={"step": "enrollment"})
    return outcome


def verify_totp(*, request: HttpRequest, token: str) -> Outcome:
    """Check the second factor of the signed-in user and mark the session verified."""
    user = request.user
    device = confirmed_totp_device(user=user)
    if device is None:
        return Outcome.WRONG
    outcome = _check(device, token)
    if outcome is Outcome.OK:
        otp_login(request, device)
        record(action="kairan.mfa.verified", user=user, request=request)
    else:
        record(
            action="kairan.mfa.failed",
            user=user,
            request=request,
            data={"step": "login", "reason": outcome.value},
        )
    return outcome


@transaction.atomic
def reset_mfa(*, request: HttpRequest, user: Any) -> int:
    """Remove every authenticator of ``user`` (lost phone); they enrol again at next login."""
    devices = list(devices_for_user(user, confirmed=None))
    for device in devices:
        device.delete()
    record(action="kairan.mfa.reset", instance=user, request=request, data={"devices": len(devices)})
    return len(devices)


def qr_svg(device: TOTPDevice) -> str:
    """The device's otpauth:// URL as an inline SVG QR code (no external request)."""
    image = qrcode.make(device.config_url, image_factory=qrcode.image.svg.SvgPathImage, box_size=8, border=2)
    svg: str = image.to_string(encoding="unicode")
    return svg


def secret_for_display(device: TOTPDevice) -> str:
    """The base32 secret in groups of four, for typing into an authenticator by hand."""
    from base64 import b32encode

    secret = b32encode(device.bin_key).decode("ascii").rstrip("=")
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
