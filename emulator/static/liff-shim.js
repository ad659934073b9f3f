/*
 * LIFF SDK shim of the Kairan LINE emulator.
 *
 * Pages load it instead of LINE's SDK (https://static.line-scdn.net/liff/edge/2/sdk.js) when
 * KAIRAN_LIFF_SDK_URL points at <emulator>/static/liff-shim.js. It defines window.liff with the
 * official SDK's names, signatures and promise behaviour for what Kairan's pages use:
 *
 *   liff.init({liffId, withLoginOnExternalBrowser}, successCallback, errorCallback) -> Promise
 *   liff.ready, liff.id, liff.isLoggedIn(), liff.login({redirectUri}), liff.logout(),
 *   liff.getProfile(), liff.getFriendship(), liff.getIDToken(), liff.getDecodedIDToken(),
 *   liff.getAccessToken(), liff.isInClient(), liff.getContext(), liff.getOS(), liff.getLanguage(),
 *   liff.getAppLanguage(), liff.getVersion(), liff.getLineVersion(), liff.isApiAvailable(name),
 *   liff.permission.getGrantedAll(), liff.permission.query(scope), liff.openWindow({url, external}),
 *   liff.closeWindow(), liff.sendMessages(messages) -> Promise
 *
 * Errors are LiffError objects ({code, message, cause}) with LINE's codes: INIT_FAILED,
 * INVALID_CONFIG, INVALID_ARGUMENT, UNAUTHORIZED, or the HTTP status of a failed server call
 * ("401", "403", ...).
 *
 * How credentials arrive: the emulator's /liff/{liffId}?user=... (LINE's https://liff.line.me/{liffId})
 * logs the virtual user in and redirects to the endpoint URL with #liff.emulator=<base64url JSON>.
 * This script reads that fragment as soon as it loads, keeps it in sessionStorage and removes it
 * from the address with history.replaceState, so page code and analytics never see the tokens.
 *
 * The simulator: liff.closeWindow() in the simulator's in-app browser (an iframe) posts
 *   {type: "liff.closeWindow", liffId} to window.parent (target origin: the emulator);
 * at top level it calls window.close(). Like LINE, closing revokes the LIFF access token.
 */
(function () {
  "use strict";

  var SDK_VERSION = "2.27.2";
  var LINE_VERSION = "15.0.0"; // the LINE app version the simulator's LIFF browser reports
  var FRAGMENT_KEY = "liff.emulator";
  var SESSION_PREFIX = "kairan.liff.emulator.session:";
  var IN_CLIENT_KEY = "kairan.liff.emulator.inClient";

  var script = document.currentScript;
  var emulatorOrigin = script && script.src ? new URL(script.src, location.href).origin : location.origin;

  // --- storage (sessionStorage, or memory where storage is blocked) ---------------------
  var memory = {};
  var storage = {
    get: function (key) {
      try { return window.sessionStorage.getItem(key); } catch (e) { return memory[key] || null; }
    },
    set: function (key, value) {
      try { window.sessionStorage.setItem(key, value); } catch (e) { memory[key] = value; }
    },
    remove: function (key) {
      try { window.sessionStorage.removeItem(key); } catch (e) { delete memory[key]; }
    },
  };

  function base64UrlDecode(text) {
    var b64 = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
    var binary = atob(b64);
    var bytes = new Uint8Array(binary.length);
    for (var i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i);
    return new TextDecoder("utf-8").decode(bytes);
  }

  function readSession(liffId) {
    var raw = storage.get(SESSION_PREFIX + liffId);
    if (!raw) return null;
    try { return JSON.parse(raw); } catch (e) { return null; }
  }

  // Take the credentials out of the address before anything else on the page reads it.
  (function captureFragment() {
    var marker = "#" + FRAGMENT_KEY + "=";
    if (location.hash.indexOf(marker) !== 0) return;
    try {
      var session = JSON.parse(base64UrlDecode(location.hash.slice(marker.length)));
      storage.set(SESSION_PREFIX + session.liffId, JSON.stringify(session));
      if (session.inClient) storage.set(IN_CLIENT_KEY, "1");
      else storage.remove(IN_CLIENT_KEY);
    } catch (e) {
      console.warn("LIFF emulator: unreadable credentials in the URL fragment", e);
    }
    history.replaceState(history.state, "", location.pathname + location.search);
  })();

  // --- errors ------------------------------------------------------------------------
  function LiffError(code, message, cause) {
    var error = new Error(message);
    Object.setPrototypeOf(error, LiffError.prototype);
    error.name = "LiffError";
    error.code = code;
    if (cause !== undefined) error.cause = cause;
    return error;
  }
  LiffError.prototype = Object.create(Error.prototype);
  LiffError.prototype.constructor = LiffError;

  // --- state -------------------------------------------------------------------------
  var state = { initialized: false, liffId: null, app: null, session: null };
  var resolveReady;
  var ready = new Promise(function (resolve) { resolveReady = resolve; });
  var pending = function () { return new Promise(function () {}); }; // the page is navigating away

  function apiBase() {
    return (state.session && state.session.apiBase) || (state.app && state.app.apiBase);
  }

  function fetchApp(liffId) {
    var url = emulatorOrigin + "/liff-emulator/apps/" + encodeURIComponent(liffId);
    return fetch(url, { credentials: "omit" }).then(function (response) {
      if (!response.ok) {
        throw LiffError("INIT_FAILED", "Failed to init LIFF SDK: unknown liffId " + liffId, { status: response.status });
      }
      return response.json();
    }, function (cause) {
      throw LiffError("INIT_FAILED", "Failed to init LIFF SDK", cause);
    });
  }

  // LINE's "concat" rule: endpoint URL + the path, query and fragment added to the LIFF URL.
  function secondaryUrl(endpointUrl, liffState) {
    var url = new URL(endpointUrl);
    var rest = liffState;
    var fragment = "";
    var query = "";
    var hashAt = rest.indexOf("#");
    if (hashAt >= 0) { fragment = rest.slice(hashAt); rest = rest.slice(0, hashAt); }
    var queryAt = rest.indexOf("?");
    if (queryAt >= 0) { query = rest.slice(queryAt + 1); rest = rest.slice(0, queryAt); }
    if (rest.replace(/\//g, "")) {
      url.pathname = url.pathname.replace(/\/+$/, "") + "/" + rest.replace(/^\/+/, "");
    }
    new URLSearchParams(query).forEach(function (value, key) { url.searchParams.append(key, value); });
    url.hash = fragment;
    return url.toString();
  }

  function warnIfOutsideEndpoint(endpointUrl) {
    var endpoint = new URL(endpointUrl);
    var base = endpoint.origin + endpoint.pathname.replace(/\/+$/, "");
    var here = location.origin + location.pathname;
    if (here !== base && here.indexOf(base + "/") !== 0) {
      console.warn("liff.init() was called with a current URL that is not related to the endpoint URL.\n" +
        here + " is not under " + endpoint.origin + endpoint.pathname);
    }
  }

  function loginUrl(redirectUri) {
    return emulatorOrigin + "/liff-emulator/login?" +
      new URLSearchParams({ liffId: state.liffId, redirectUri: redirectUri }).toString();
  }

  function init(config, successCallback, errorCallback) {
    var promise = Promise.resolve().then(function () {
      if (!config || typeof config.liffId !== "string" || !config.liffId) {
        throw LiffError("INVALID_CONFIG", "liffId is necessary for liff.init()");
      }
      var liffId = config.liffId;
      var session = readSession(liffId);
      var appPromise = session ? Promise.resolve(null) : fetchApp(liffId);
      return appPromise.then(function (app) {
        state.liffId = liffId;
        state.session = session;
        state.app = app;
        liff.id = liffId;
        var endpointUrl = session ? session.endpointUrl : app.endpointUrl;
        var liffState = new URLSearchParams(location.search).get("liff.state");
        if (liffState !== null) {
          var target = secondaryUrl(endpointUrl, liffState);
          if (!session && config.withLoginOnExternalBrowser) location.href = loginUrl(target);
          else location.replace(target);
          return pending();
        }
        warnIfOutsideEndpoint(endpointUrl);
        if (!session && config.withLoginOnExternalBrowser) {
          location.href = loginUrl(location.href);
          return pending();
        }
        state.initialized = true;
        resolveReady();
        return undefined;
      });
    });
    promise.then(function () {
      if (typeof successCallback === "function") successCallback();
    }, function (error) {
      if (typeof errorCallback === "function") errorCallback(error);
    });
    return promise;
  }

  // --- server calls with the LINE Login access token -----------------------------------
  function apiCall(path, options) {
    var token = state.session && state.session.accessToken;
    if (!token) {
      return Promise.reject(LiffError("UNAUTHORIZED", "Need access_token for api call, Please login first"));
    }
    var headers = Object.assign({ Authorization: "Bearer " + token }, (options && options.headers) || {});
    var request = Object.assign({}, options || {}, { headers: headers, credentials: "omit" });
    return fetch(apiBase() + path, request).then(function (response) {
      return response.text().then(function (text) {
        var body = null;
        try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
        if (!response.ok) {
          var message = (body && (body.message || body.error_description)) || response.statusText;
          throw LiffError(String(response.status), message, body);
        }
        return body;
      });
    }, function (cause) {
      throw LiffError("UNKNOWN", "The LINE emulator could not be reached", cause);
    });
  }

  function revokeOnClose() {
    var session = state.session;
    if (!session || !session.inClient) return;
    var body = new URLSearchParams({ access_token: session.accessToken, client_id: session.loginChannelId });
    fetch(session.apiBase + "/oauth2/v2.1/revoke", {
      method: "POST", body: body, keepalive: true, credentials: "omit",
    }).catch(function () { /* the app is closing; nothing to report to */ });
    storage.remove(SESSION_PREFIX + session.liffId);
    state.session = null;
  }

  function isInClient() {
    return storage.get(IN_CLIENT_KEY) === "1";
  }

  function scopes() {
    if (state.session) return state.session.context.scope || [];
    return (state.app && state.app.scope) || [];
  }

  var liff = {
    id: null,
    ready: ready,
    init: init,

    getOS: function () {
      var agent = navigator.userAgent;
      if (/iPhone|iPad|iPod/.test(agent)) return "ios";
      if (/Android/.test(agent)) return "android";
      return "web";
    },
    getLanguage: function () { return navigator.language; },
    getAppLanguage: function () {
      var session = state.session || (state.liffId && readSession(state.liffId));
      return isInClient() && session && session.language ? session.language : navigator.language;
    },
    getVersion: function () { return SDK_VERSION; },
    getLineVersion: function () { return isInClient() ? LINE_VERSION : null; },
    isInClient: isInClient,
    isLoggedIn: function () { return !!(state.session && state.session.accessToken); },
    isApiAvailable: function (apiName) {
      var context = state.session && state.session.context;
      var entry = context && context.availability && context.availability[apiName];
      return !!(entry && entry.permission);
    },
    getContext: function () {
      if (!state.initialized) return null;
      if (state.session) return JSON.parse(JSON.stringify(state.session.context));
      return {
        type: "external",
        userId: null,
        liffId: state.liffId,
        endpointUrl: state.app ? state.app.endpointUrl : null,
        scope: scopes().slice(),
        permanentLinkPattern: "concat",
      };
    },

    login: function (loginConfig) {
      if (liff.isLoggedIn()) return;
      var endpoint = (state.session && state.session.endpointUrl) || (state.app && state.app.endpointUrl);
      var redirectUri = (loginConfig && loginConfig.redirectUri) || endpoint || location.href;
      location.href = loginUrl(redirectUri);
    },
    logout: function () {
      if (state.liffId) storage.remove(SESSION_PREFIX + state.liffId);
      state.session = null;
    },
    getAccessToken: function () { return (state.session && state.session.accessToken) || null; },
    getIDToken: function () { return (state.session && state.session.idToken) || null; },
    getDecodedIDToken: function () {
      var token = liff.getIDToken();
      if (!token) return null;
      try { return JSON.parse(base64UrlDecode(token.split(".")[1])); } catch (e) { return null; }
    },

    permission: {
      getGrantedAll: function () { return Promise.resolve(scopes().slice()); },
      query: function (permission) {
        return Promise.resolve({ state: scopes().indexOf(permission) >= 0 ? "granted" : "unavailable" });
      },
    },

    getProfile: function () { return apiCall("/v2/profile", { method: "GET" }); },
    getFriendship: function () { return apiCall("/friendship/v1/status", { method: "GET" }); },
    sendMessages: function (messages) {
      if (!Array.isArray(messages)) {
        return Promise.reject(LiffError("INVALID_ARGUMENT", "messages must be an array of message objects"));
      }
      return apiCall("/message/v3/share", {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ messages: messages }),
      }).then(function () { return undefined; });
    },

    openWindow: function (params) {
      if (!params || typeof params.url !== "string") {
        throw LiffError("INVALID_ARGUMENT", "params.url must be a full URL");
      }
      if (params.external) window.open(params.url, "_blank", "noopener");
      else location.href = params.url;
    },
    closeWindow: function () {
      revokeOnClose();
      if (window.parent !== window) {
        window.parent.postMessage({ type: "liff.closeWindow", liffId: state.liffId }, emulatorOrigin);
      } else {
        window.close();
      }
    },
  };

  window.liff = liff;
})();
