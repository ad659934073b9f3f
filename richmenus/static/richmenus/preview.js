// The admin preview of a メニューセット: tapping a tab area switches tabs as LINE's richmenuswitch
// does; any other area says what it would do.
const root = document.querySelector("[data-richmenu-preview]");
if (root) {
  const status = root.querySelector(".rm-status");
  root.addEventListener("click", (event) => {
    const area = event.target.closest(".rm-area");
    if (!area) return;
    const target = area.dataset.switch;
    if (target) {
      root.querySelectorAll(".rm-tab").forEach((tab) => {
        tab.hidden = tab.dataset.tab !== target;
      });
    }
    status.textContent = area.dataset.describe;
  });
}
