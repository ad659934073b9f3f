"""Content that users sent (images, video, audio, files), on the api-data host.

The events module stores the bytes with ``store.store_content``; LINE keeps them only for a while
(``config.content_ttl``), after which these endpoints answer 404 like unknown message ids.
"""

from __future__ import annotations

import io
from typing import Any

from PIL import Image, UnidentifiedImageError
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from emulator.endpoints import Call, line_endpoint
from emulator.errors import not_found
from emulator.state import Content

PREVIEW_SIZE = (240, 240)


def _content(call: Call) -> Content:
    item = call.store.content(call.channel, call.path("message_id"))
    if item is None:
        raise not_found()
    return item


@line_endpoint("content")
async def content(call: Call) -> Response:
    item = _content(call)
    return Response(item.data, media_type=item.content_type)


def preview_jpeg(data: bytes) -> bytes | None:
    """A smaller JPEG of an image, or None when the bytes are not an image Pillow can read."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.thumbnail(PREVIEW_SIZE)
            out = io.BytesIO()
            image.convert("RGB").save(out, format="JPEG", quality=80)
            return out.getvalue()
    except (UnidentifiedImageError, OSError, ValueError):
        return None


@line_endpoint("content")
async def content_preview(call: Call) -> Response:
    """The preview of an image (a video's would need its frames, which the emulator cannot make)."""
    item = _content(call)
    preview = preview_jpeg(item.data) if item.content_type.startswith("image/") else None
    if preview is None:
        raise not_found()
    return Response(preview, media_type="image/jpeg")


@line_endpoint("content")
async def content_transcoding(call: Call) -> dict[str, Any]:
    """Stored content is ready at once: ``succeeded``."""
    _content(call)
    return {"status": "succeeded"}


data_routes: list[BaseRoute] = [
    Route("/v2/bot/message/{message_id}/content", content, methods=["GET"]),
    Route("/v2/bot/message/{message_id}/content/preview", content_preview, methods=["GET"]),
    Route("/v2/bot/message/{message_id}/content/transcoding", content_transcoding, methods=["GET"]),
]
