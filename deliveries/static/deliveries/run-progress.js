// The progress bar of a delivery run (配信履歴 → one run): polls the progress JSON while the run
// is scheduled or sending, and reloads the page once it is over (so the final counts show).
const section = document.querySelector("[data-run-progress-url]");
if (section && section.dataset.runLive) {
  const bar = document.getElementById("run-progress");
  const text = document.getElementById("run-progress-text");
  const state = document.querySelector("[data-run-state]");
  const sent = document.querySelector("[data-run-sent]");
  const failed = document.querySelector("[data-run-failed]");
  const poll = async () => {
    try {
      const response = await fetch(section.dataset.runProgressUrl, { credentials: "same-origin" });
      if (!response.ok) return;
      const data = await response.json();
      bar.max = Math.max(1, data.chunks_total);
      bar.value = data.chunks_done;
      bar.textContent = `${data.chunks_done} / ${data.chunks_total}`;
      text.textContent = `${data.chunks_done} / ${data.chunks_total} 回分を送信しました（1回に最大500人）。` +
        (data.state === "sending" && !data.materialised ? "宛先を準備しています。" : "");
      sent.textContent = `${data.sent} 人`;
      failed.textContent = `${data.failed} 人`;
      if (state.textContent !== data.state_label) {
        state.textContent = data.state_label;
        if (!["scheduled", "sending"].includes(data.state)) {
          window.location.reload();
          return;
        }
      }
    } catch (error) {
      // offline for a moment: try again next time
    }
    window.setTimeout(poll, 1000);
  };
  window.setTimeout(poll, 1000);
}
