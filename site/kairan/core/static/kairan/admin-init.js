/*
 * Kairan: runs the initialisers that Wagtail's admin templates would run as
 * inline <script> elements, which our Content-Security-Policy (script-src
 * 'self') blocks. Our template overrides render a hidden marker instead:
 *   <span hidden data-kairan-init="date" data-kairan-target="id" data-kairan-config="{...}">
 * Markers present at load and added later (inline panel forms) are handled once.
 */
(function () {
  "use strict";

  var initialisers = {
    date: function (el, config) { window.initDateChooser(el.dataset.kairanTarget, config); },
    datetime: function (el, config) { window.initDateTimeChooser(el.dataset.kairanTarget, config); },
    time: function (el, config) { window.initTimeChooser(el.dataset.kairanTarget, config); },
    "inline-panel": function (el, config) { new window.InlinePanel(config); },
    "multiple-chooser-panel": function (el, config) { new window.MultipleChooserPanel(config); },
  };

  function run(el) {
    if (el.dataset.kairanDone) return;
    var init = initialisers[el.dataset.kairanInit];
    if (!init) return;
    // Markers inside <template> content (not yet added forms) are not in the document.
    if (el.closest("template")) return;
    el.dataset.kairanDone = "1";
    init(el, JSON.parse(el.dataset.kairanConfig || "{}"));
  }

  function scan(root) {
    if (root.nodeType !== 1) return;
    if (root.matches("[data-kairan-init]")) run(root);
    root.querySelectorAll("[data-kairan-init]").forEach(run);
  }

  function start() {
    scan(document.body);
    new MutationObserver(function (mutations) {
      mutations.forEach(function (m) { m.addedNodes.forEach(scan); });
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
