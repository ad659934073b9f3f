"""Channel-level endpoints: bot info."""

from __future__ import annotations

from typing import Any

from starlette.routing import Route

from emulator.endpoints import Call, line_endpoint


@line_endpoint("info")
async def bot_info(call: Call) -> dict[str, Any]:
    spec = call.channel.spec
    return {
        "userId": spec.bot_user_id,
        "basicId": spec.basic_id,
        "displayName": spec.display_name,
        "pictureUrl": f"{call.store.config.public_url}/static/bot.svg",
        "chatMode": "bot",
        "markAsReadMode": "auto",
    }


api_routes = [Route("/v2/bot/info", bot_info, methods=["GET"])]
