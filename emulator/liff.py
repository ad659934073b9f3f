"""LIFF apps and LINE Login identity in the emulator.

Kairan's LIFF pages load the official LIFF SDK in production and, pointed at
the emulator (``KAIRAN_LIFF_SDK_URL=<emulator>/static/liff-shim.js``), the shim
``emulator/static/liff-shim.js``, which offers the same ``liff`` API. The parts:

- ``emulator.liff_registry``: a channel's LIFF apps and LINE's LIFF server API
  (``/liff/v1/apps``) on the api host;
- ``emulator.liff_login``: LINE Login access tokens and ID tokens, the verify
  endpoints, ``/v2/profile``, ``/friendship/v1/status`` and
  ``/message/v3/share`` (``liff.sendMessages()``) on the api host;
- ``emulator.liff_pages``: ``/liff/{liffId}`` (``https://liff.line.me/{liffId}``),
  the login page for ``liff.login()`` and the shim, on the emulator site;
- ``emulator.liff_sample``: ``/liff-sample/``, a sample LIFF page registered as
  ``<loginChannelId>-sample01`` of the default channel at start-up.
"""

from __future__ import annotations

import logging
from typing import Any

from emulator import liff_login, liff_pages, liff_registry, liff_sample
from emulator.liff_sample import SAMPLE_PATH, sample_liff_id
from emulator.state import Store

log = logging.getLogger("emulator.liff")

api_routes = [*liff_registry.api_routes, *liff_login.api_routes]
site_routes = [*liff_pages.site_routes, *liff_sample.site_routes]


def register_sample(store: Store) -> str:
    """Make the sample page a LIFF app of the default channel, also after a world reset."""
    config = store.config
    spec = config.channels[0]
    liff_id = sample_liff_id(spec.login_channel_id)
    url = config.public_url + SAMPLE_PATH
    with store.lock:
        spec.liff_apps.setdefault(liff_id, url)  # reset() rebuilds channels from the specs
        channel = store.channel(spec.channel_id)
        if channel is not None:
            channel.liff_apps.setdefault(liff_id, url)
    return liff_id


def register_configured_apps(store: Store) -> None:
    """LIFF apps given at start-up (``--liff-app``) win over a saved state's, as its webhook URL does."""
    with store.lock:
        for spec in store.config.channels:
            channel = store.channel(spec.channel_id)
            if channel is not None:
                channel.liff_apps.update(spec.liff_apps)


async def on_startup(app: Any) -> None:
    store: Store = app.state.store
    register_configured_apps(store)
    liff_id = register_sample(store)
    log.info("LIFF sample app %s: %s/liff/%s?user=<userId>", liff_id, store.config.public_url, liff_id)
