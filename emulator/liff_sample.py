"""A sample LIFF page served by the emulator, for training and the browser test.

``GET /liff-sample/`` loads ``/static/liff-shim.js`` the way a Kairan page
loads the LIFF SDK, initialises LIFF, shows the profile and the ID token's
name, sends a message with 「トークに送る」 and closes with 「閉じる」. It is
registered at start-up as the LIFF app ``<loginChannelId>-sample01`` of the
default channel (see ``emulator.liff.on_startup``). The page is served with a
strict Content-Security-Policy (no inline script), as Kairan's pages are.
"""

from __future__ import annotations

import html

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import Route

from emulator.endpoints import store_of

SAMPLE_SUFFIX = "sample01"
SAMPLE_PATH = "/liff-sample/"


def sample_liff_id(login_channel_id: str) -> str:
    return f"{login_channel_id}-{SAMPLE_SUFFIX}"


SAMPLE_PAGE = """<!doctype html>
<html lang="ja">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<link rel="icon" href="data:,">
<title>LIFF サンプル - LINE エミュレーター</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0; padding: 1rem; line-height: 1.7; color: #111; }}
main {{ max-width: 32rem; margin: 0 auto; }}
h1 {{ font-size: 1.3rem; }}
h2 {{ font-size: 1.1rem; margin-top: 1.5rem; }}
dl {{ display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }}
dt {{ font-weight: bold; }}
dd {{ margin: 0; word-break: break-all; }}
img {{ width: 96px; height: 96px; border-radius: 50%; }}
label {{ display: block; }}
input {{ font-size: 1rem; padding: .4rem; width: 100%; box-sizing: border-box; }}
button {{ font-size: 1rem; padding: .6rem 1.2rem; margin: .5rem .5rem 0 0; border-radius: .5rem;
  border: 0; background: #06793a; color: #fff; cursor: pointer; }}
button.secondary {{ background: #4a4a4a; }}
button:focus-visible, input:focus-visible {{ outline: 3px solid #1a5fb4; outline-offset: 2px; }}
[hidden] {{ display: none !important; }}
#status {{ padding: .5rem .75rem; background: #eef6f0; border-radius: .5rem; }}
</style>
</head>
<body>
<main>
<h1>LIFF サンプル</h1>
<p id="status" role="status" aria-live="polite">LIFF を初期化しています…</p>
<section aria-labelledby="profile-heading">
<h2 id="profile-heading">プロフィール</h2>
<img id="picture" alt="" hidden>
<dl>
<dt>表示名</dt><dd id="display-name">—</dd>
<dt>ユーザーID</dt><dd id="user-id">—</dd>
<dt>IDトークンの名前</dt><dd id="id-token-name">—</dd>
<dt>LINEアプリ内</dt><dd id="in-client">—</dd>
<dt>OS</dt><dd id="os">—</dd>
</dl>
</section>
<section aria-labelledby="send-heading">
<h2 id="send-heading">メッセージ</h2>
<form id="send-form">
<label for="message">トークに送るメッセージ</label>
<input id="message" name="message" maxlength="5000" required value="LIFFサンプルから送信しました">
<button type="submit" id="send">トークに送る</button>
</form>
</section>
<p>
<button type="button" id="login" class="secondary" hidden>ログイン</button>
<button type="button" id="close" class="secondary">閉じる</button>
</p>
</main>
<script src="/static/liff-shim.js"></script>
<script src="{app_js}" data-liff-id="{liff_id}"></script>
</body>
</html>
"""

SAMPLE_JS = """// The sample LIFF app: what a Kairan LIFF page does with the SDK.
(function () {
  "use strict";
  var liffId = document.currentScript.dataset.liffId;
  function $(id) { return document.getElementById(id); }
  function status(text) { $("status").textContent = text; }
  function failure(prefix, error) {
    status(prefix + "（" + (error && error.code) + "）: " + (error && error.message));
  }

  function showProfile() {
    return liff.getProfile().then(function (profile) {
      $("display-name").textContent = profile.displayName;
      $("user-id").textContent = profile.userId;
      if (profile.pictureUrl) {
        $("picture").src = profile.pictureUrl;
        $("picture").alt = profile.displayName + " さんのプロフィール画像";
        $("picture").hidden = false;
      }
      var decoded = liff.getDecodedIDToken();
      $("id-token-name").textContent = decoded ? decoded.name : "（IDトークンなし）";
      status(profile.displayName + " さんとしてログインしています。");
    });
  }

  liff.init({ liffId: liffId }).then(function () {
    $("in-client").textContent = liff.isInClient() ? "はい" : "いいえ";
    $("os").textContent = liff.getOS();
    if (!liff.isLoggedIn()) {
      status("ログインしていません。");
      $("login").hidden = false;
      return null;
    }
    return showProfile();
  }).catch(function (error) { failure("LIFF を使えません", error); });

  $("send-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var text = $("message").value;
    liff.sendMessages([{ type: "text", text: text }]).then(function () {
      status("トークに送りました。");
    }).catch(function (error) { failure("送信できませんでした", error); });
  });
  $("login").addEventListener("click", function () { liff.login(); });
  $("close").addEventListener("click", function () { liff.closeWindow(); });
})();
"""


async def sample_page(request: Request) -> Response:
    config = store_of(request).config
    liff_id = sample_liff_id(config.channels[0].login_channel_id)
    csp = (
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src * data:; "
        f"connect-src 'self' {config.public_url}; base-uri 'none'; form-action 'self'; object-src 'none'"
    )
    body = SAMPLE_PAGE.format(app_js=SAMPLE_PATH + "app.js", liff_id=html.escape(liff_id))
    return HTMLResponse(body, headers={"Content-Security-Policy": csp, "Cache-Control": "no-store"})


async def sample_js(request: Request) -> Response:
    return Response(
        SAMPLE_JS, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "no-cache"}
    )


site_routes = [
    Route(SAMPLE_PATH, sample_page, methods=["GET"]),
    Route(SAMPLE_PATH + "app.js", sample_js, methods=["GET"]),
]
