/*
 * My Page: move the focus to a message the server rendered (an error beside the agreement, or
 * "受信設定を削除しました"), so screen readers announce it and the resident sees it.
 * No inline script (CSP): this file is loaded by the templates that need it.
 */
(function () {
  "use strict";
  var target = document.querySelector("[data-focus-on-load]");
  if (target) target.focus();
})();
