// The control page works without this script; it adds copy buttons and keeps the live parts
// (users, deliveries, webhook results, the clock) fresh by reading /control-panel/live.

const REFRESH_MS = 3000;

function addCopyButtons(root = document) {
  root.querySelectorAll("[data-copy]").forEach((code) => {
    if (code.nextElementSibling && code.nextElementSibling.classList.contains("copy-button")) return;
    const row = code.closest("tr");
    const label = row ? row.querySelector("th")?.textContent || "" : "";
    const button = document.createElement("button");
    button.type = "button";
    button.className = "copy-button secondary";
    button.textContent = "コピー";
    button.setAttribute("aria-label", `${label}をコピー`);
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(code.textContent);
        button.textContent = "コピーしました";
      } catch {
        button.textContent = "コピーできません";
      }
      setTimeout(() => {
        button.textContent = "コピー";
      }, 2000);
    });
    code.after(button);
  });
}

async function refresh() {
  try {
    const response = await fetch("/control-panel/live", { cache: "no-store" });
    if (response.ok) {
      const data = await response.json();
      for (const [name, html] of Object.entries(data.parts)) {
        const target = document.querySelector(`[data-live="${CSS.escape(name)}"]`);
        // Leave a part alone while the keyboard is in it, so focus is not lost.
        if (!target || target.contains(document.activeElement) || target.innerHTML === html) continue;
        // The fragments are rendered by the emulator with every value escaped.
        target.innerHTML = html;
      }
    }
  } catch {
    // the emulator is restarting: try again later
  }
  setTimeout(refresh, REFRESH_MS);
}

addCopyButtons();
setTimeout(refresh, REFRESH_MS);
