// Keyboard focus kept inside an open overlay (sheets and the in-app browser of the phone).

const FOCUSABLE =
  'a[href], button:not([disabled]), input:not([disabled]):not([type=hidden]), select:not([disabled]), ' +
  'textarea:not([disabled]), iframe, [tabindex]:not([tabindex="-1"])';

function visible(node) {
  return !node.closest("[hidden]") && node.getClientRects().length > 0;
}

// Tab and Shift+Tab cycle within `root` until the returned function is called.
export function trapFocus(root) {
  const onKeydown = (event) => {
    if (event.key !== "Tab") return;
    const items = [...root.querySelectorAll(FOCUSABLE)].filter(visible);
    if (!items.length) return;
    const first = items[0];
    const last = items[items.length - 1];
    if (event.shiftKey && document.activeElement === first) {
      event.preventDefault();
      last.focus();
    } else if (!event.shiftKey && document.activeElement === last) {
      event.preventDefault();
      first.focus();
    }
  };
  root.addEventListener("keydown", onKeydown);
  return () => root.removeEventListener("keydown", onKeydown);
}

// A bottom sheet of the phone (location, date and time): open(opener) / close().
export class Sheet {
  constructor(root) {
    this.root = root;
    this.opener = null;
    this.release = null;
    this.onCancel = null;
    root.querySelectorAll("[data-close-sheet]").forEach((button) =>
      button.addEventListener("click", () => this.cancel()),
    );
    root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") {
        event.preventDefault();
        this.cancel();
      }
    });
  }

  open(opener, onCancel) {
    this.opener = opener || document.activeElement;
    this.onCancel = onCancel || null;
    this.root.hidden = false;
    this.release = trapFocus(this.root);
    const first = this.root.querySelector("select, input, textarea, button");
    if (first) first.focus();
  }

  cancel() {
    const onCancel = this.onCancel;
    this.close();
    if (onCancel) onCancel();
  }

  close() {
    if (this.root.hidden) return;
    this.root.hidden = true;
    this.onCancel = null;
    if (this.release) this.release();
    this.release = null;
    const opener = this.opener;
    this.opener = null;
    if (opener && document.contains(opener) && typeof opener.focus === "function") opener.focus();
  }
}
