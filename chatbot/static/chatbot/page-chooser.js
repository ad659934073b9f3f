/*
 * Kairan chatbot: starts Wagtail's page choosers of the chatbot's admin forms. Wagtail renders
 * each chooser's initialiser as an inline <script>, which the admin's Content-Security-Policy
 * (script-src 'self') blocks; chatbot.widgets.PageChooser renders a hidden marker and this file
 * instead:
 *   <span hidden data-chatbot-page-chooser="id_parent" data-chatbot-options="{...}"></span>
 *   <script src=".../chatbot/page-chooser.js"></script>
 * It runs where the inline script would (while the page is parsed, Wagtail's page-chooser.js
 * already loaded by the form's media in the head): before Wagtail's dropdowns take their buttons
 * (「別のページを選択」) out of the document once it has loaded.
 */
(function () {
  "use strict";

  if (!window.PageChooser) return;
  document.querySelectorAll("[data-chatbot-page-chooser]").forEach(function (marker) {
    if (marker.dataset.chatbotDone) return;
    marker.dataset.chatbotDone = "1";
    var options = JSON.parse(marker.dataset.chatbotOptions || "{}");
    new window.PageChooser(marker.dataset.chatbotPageChooser, options);
  });
})();
