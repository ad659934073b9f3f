/*
 * Kairan's LIFF pages: tell the server who the resident is, as LINE vouches for it.
 *
 * Loaded by line_channel/liff_base.html after the LIFF SDK (LINE's, or the emulator's shim).
 * Its data comes from #kairan-liff's data- attributes (no inline script: CSP):
 *   data-state        "identify" (no verified resident in the session) or "identified"
 *   data-liff-id      the LIFF app to liff.init()
 *   data-session-url  where the ID token is POSTed (the server asks LINE to verify it)
 *   data-end-url      where kairanLiff.logout() ends the identity
 *   data-csrf-token   Django's CSRF token for those POSTs
 *   data-user         the LINE user id the server verified (identified pages)
 *
 * "identify": liff.init(), the ID token (liff.getIDToken()) to the server, then the same URL
 * again (the server now renders the content). "identified": liff.init() too (LIFF needs it for
 * its secondary redirect and for pages that use liff.*), and when LINE's user is not the
 * session's (liff.logout() and a login as someone else), identify again. The server never
 * takes a user id from the page; the ID token is the only thing it believes, after LINE does.
 *
 * window.kairanLiff = {ready: Promise (resolves once LIFF is initialised on an identified page),
 * logout(): end the identity on the server and in LIFF}.
 */
(function () {
  "use strict";

  var RELOAD_MARK = "kairan.liff.identified-at";
  var MESSAGES = {
    sdk: "LINE の機能を読み込めませんでした。通信状態を確かめて、ページを開き直してください。",
    init: "LINE の機能を始められませんでした。LINE のトークやメニューからページを開き直してください。",
    noToken: "LINE から本人確認の情報を受け取れませんでした。LINE のトークやメニューからページを開き直してください。",
    network: "通信できませんでした。電波の良いところで、もう一度お試しください。",
    cookies:
      "このブラウザーでは本人確認の結果を保存できません（Cookie が使えない設定です）。" +
      "LINE アプリからページを開き直してください。",
    server: "本人確認ができませんでした。しばらくしてから、もう一度お試しください。",
  };

  var root = document.getElementById("kairan-liff");
  if (!root) return;
  var config = root.dataset;
  var pending = function () { return new Promise(function () {}); }; // the page is navigating away

  function $(id) { return document.getElementById(id); }

  function mark(value) {
    try {
      if (value) window.sessionStorage.setItem(RELOAD_MARK, value);
      else window.sessionStorage.removeItem(RELOAD_MARK);
    } catch (e) { /* storage blocked: the cookie check below cannot run, nothing else changes */ }
  }

  function marked() {
    try { return Number(window.sessionStorage.getItem(RELOAD_MARK) || 0); } catch (e) { return 0; }
  }

  function fail(message) {
    var status = $("kairan-liff-status");
    var error = $("kairan-liff-error");
    if (status) status.hidden = true;
    if (error) {
      error.textContent = message;
      error.hidden = false;
    }
    var actions = $("kairan-liff-actions");
    if (actions) actions.hidden = false;
    var close = $("kairan-liff-close");
    if (close && window.liff && typeof liff.isInClient === "function" && liff.isInClient()) close.hidden = false;
  }

  function post(url, body) {
    return fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": config.csrfToken, Accept: "application/json" },
      body: JSON.stringify(body || {}),
    }).then(function (response) {
      return response.json().then(function (data) { return data; }, function () {
        return { ok: false, message: MESSAGES.server };
      });
    }, function () {
      return { ok: false, message: MESSAGES.network };
    });
  }

  function reload() {
    location.replace(location.href.split("#")[0]);
    return pending();
  }

  function identify() {
    if (!liff.isLoggedIn()) {
      // An external browser: LINE Login first, back to this page (in LINE's own browser the
      // resident is always logged in).
      liff.login({ redirectUri: location.href.split("#")[0] });
      return pending();
    }
    var token = liff.getIDToken();
    if (!token) {
      fail(MESSAGES.noToken);
      return null;
    }
    return post(config.sessionUrl, { idToken: token }).then(function (result) {
      if (!result || !result.ok) {
        // On an identified page the server has now dropped the old identity: show the
        // identifying page, which asks once more and explains what went wrong.
        if (config.state !== "identify") return reload();
        fail((result && result.message) || MESSAGES.server);
        return null;
      }
      mark(String(Date.now()));
      return reload();
    });
  }

  function checkSameUser() {
    mark("");
    if (!liff.isLoggedIn()) return undefined;
    var decoded = liff.getDecodedIDToken();
    // Only a hint to ask the server again; the server believes LINE's verification alone.
    if (decoded && decoded.sub && decoded.sub !== config.user) return identify();
    return undefined;
  }

  function logout() {
    return post(config.endUrl, {}).then(function () {
      if (window.liff && liff.isLoggedIn()) liff.logout();
      return reload();
    });
  }

  var retry = $("kairan-liff-retry");
  if (retry) retry.addEventListener("click", function () { location.reload(); });
  var close = $("kairan-liff-close");
  if (close) close.addEventListener("click", function () { liff.closeWindow(); });

  var ready;
  if (typeof window.liff === "undefined") {
    fail(MESSAGES.sdk);
    ready = Promise.reject(new Error("LIFF SDK not loaded"));
  } else if (config.state === "identify" && Date.now() - marked() < 30000) {
    // Identified a moment ago, yet the server still does not know us: the session cookie was
    // not kept. Asking again would loop.
    mark("");
    fail(MESSAGES.cookies);
    ready = Promise.reject(new Error("session cookie not kept"));
  } else {
    ready = liff.init({ liffId: config.liffId }).then(function () {
      return config.state === "identify" ? identify() : checkSameUser();
    }, function (error) {
      fail(MESSAGES.init);
      throw error;
    });
  }
  ready.catch(function () { /* shown on the page */ });

  window.kairanLiff = { ready: ready, logout: logout };
})();
