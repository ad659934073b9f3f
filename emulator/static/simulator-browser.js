// The in-app browser: an overlay inside the phone with a title bar, a close button and an iframe.
//
// LIFF URLs (https://liff.line.me/{liffId}, line://app/{liffId}, the emulator's /liff/{liffId})
// open as /liff/{liffId}?user=<the current resident>, which logs the resident in to the app.
// The LIFF shim's liff.closeWindow() posts {type: "liff.closeWindow"} to this page: the
// browser closes, as LINE's does.

import { trapFocus } from "./simulator-dialog.js";

const LIFF_HOST = /^https:\/\/liff\.line\.me\/([^/?#]+)(.*)$/i;
const LINE_APP = /^line:\/\/app\/([^/?#]+)(.*)$/i;

// Where the iframe goes for `url`: {kind: "liff" | "web" | "unsupported", src}.
export function resolveUrl(url, userId, origin = location.origin) {
  const raw = String(url || "").trim();
  let match = LIFF_HOST.exec(raw) || LINE_APP.exec(raw);
  let liffPath = null;
  if (match) {
    liffPath = `/liff/${match[1]}${match[2] || ""}`;
  } else {
    let parsed;
    try {
      parsed = new URL(raw, origin);
    } catch {
      return { kind: "unsupported", src: raw };
    }
    if (parsed.origin === origin && parsed.pathname.startsWith("/liff/")) {
      liffPath = parsed.pathname + parsed.search + parsed.hash;
    } else if (parsed.protocol === "http:" || parsed.protocol === "https:") {
      return { kind: "web", src: parsed.href };
    } else {
      return { kind: "unsupported", src: raw };
    }
  }
  const target = new URL(liffPath, origin);
  if (userId && !target.searchParams.has("user")) target.searchParams.set("user", userId);
  return { kind: "liff", src: target.pathname + target.search + target.hash };
}

export class InAppBrowser {
  constructor(root, { currentUser, onClosed }) {
    this.root = root;
    this.frame = root.querySelector("#browser-frame");
    this.title = root.querySelector("#browser-title");
    this.address = root.querySelector("#browser-url");
    this.external = root.querySelector("#browser-external");
    this.notice = root.querySelector("#browser-notice");
    this.closeButton = root.querySelector("#browser-close");
    this.currentUser = currentUser;
    this.onClosed = onClosed;
    this.opener = null;
    this.releaseFocus = null;
    this.closeButton.addEventListener("click", () => this.close());
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.close();
      }
    });
    this.frame.addEventListener("load", () => this.updateTitle());
    window.addEventListener("message", (event) => {
      if (this.root.hidden || event.source !== this.frame.contentWindow) return;
      const data = event.data;
      if (data && typeof data === "object" && data.type === "liff.closeWindow") this.close();
    });
  }

  get isOpen() {
    return !this.root.hidden;
  }

  open(url, opener) {
    const target = resolveUrl(url, this.currentUser());
    this.opener = opener || document.activeElement;
    this.root.hidden = false;
    this.address.textContent = target.src;
    this.title.textContent = "読み込み中…";
    if (target.kind === "unsupported") {
      this.frame.hidden = true;
      this.frame.src = "about:blank";
      this.external.hidden = true;
      this.notice.hidden = false;
      this.notice.textContent = `このリンクはシミュレーターでは開けません：${target.src}`;
      this.title.textContent = "開けないリンク";
    } else {
      this.notice.hidden = true;
      this.frame.hidden = false;
      this.external.hidden = target.kind === "liff";
      this.external.href = target.kind === "web" ? target.src : "about:blank";
      this.frame.src = target.src;
    }
    this.releaseFocus = trapFocus(this.root);
    this.closeButton.focus();
  }

  updateTitle() {
    if (this.root.hidden || this.frame.hidden) return;
    let title = "";
    try {
      const doc = this.frame.contentDocument;
      if (doc && doc.location.href !== "about:blank") {
        title = doc.title;
        this.address.textContent = doc.location.pathname + doc.location.search;
      }
    } catch {
      title = ""; // another origin: its title is not readable
    }
    if (!title) {
      try {
        title = new URL(this.address.textContent, location.href).host;
      } catch {
        title = this.address.textContent;
      }
    }
    this.title.textContent = title || "アプリ内ブラウザ";
  }

  close() {
    if (this.root.hidden) return;
    this.root.hidden = true;
    this.frame.src = "about:blank";
    if (this.releaseFocus) this.releaseFocus();
    this.releaseFocus = null;
    const opener = this.opener;
    this.opener = null;
    if (opener && document.contains(opener) && typeof opener.focus === "function") opener.focus();
    if (this.onClosed) this.onClosed();
  }
}
