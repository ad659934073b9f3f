/*
 * Kairan: the delivery editor (配信, a Wagtail snippet) shows only the fields that apply.
 *
 *   送る相手 (audience):   配信グループ (segment) for "segment", 条件 (conditions) for "custom"
 *   送るとき (timing):     配信日時 (send_at) for "at"; the repeat_* fields and 祝日は送らない for
 *                          "recurring", and within them 曜日 for weekly, 日付 for monthly_date,
 *                          第◯週 and its 曜日 for monthly_nth
 *
 * Fields are hidden with the hidden attribute, never removed, so their values are still posted
 * (the model's clean() ignores what does not apply). A field that is not on the form is skipped;
 * a rule whose deciding field (audience, timing, repeat_frequency) is absent hides nothing.
 *
 * Wagtail 8 renders each FieldPanel as <div class="w-field__wrapper" data-field-wrapper>; inside a
 * MultiFieldPanel or FieldRowPanel that sits in a <div class="w-panel__wrapper"> holding the label,
 * and a top-level FieldPanel in a <section class="w-panel" data-panel>. The nearest of these around
 * the field's input is what is hidden; a field row whose fields are all hidden is hidden too.
 */
(function () {
  "use strict";

  // field → the condition on the deciding values under which it shows
  var RULES = {
    segment: function (v) { return v.audience === undefined || v.audience === "segment"; },
    conditions: function (v) { return v.audience === undefined || v.audience === "custom"; },
    send_at: function (v) { return v.timing === undefined || v.timing === "at"; },
    repeat_frequency: recurring,
    repeat_time: recurring,
    repeat_start: recurring,
    repeat_end: recurring,
    skip_holidays: recurring,
    repeat_weekdays: frequency("weekly"),
    repeat_day: frequency("monthly_date"),
    repeat_nth: frequency("monthly_nth"),
    repeat_nth_weekday: frequency("monthly_nth"),
  };
  var DECIDING = ["audience", "timing", "repeat_frequency"];

  function recurring(v) {
    return v.timing === undefined || v.timing === "recurring";
  }

  function frequency(name) {
    return function (v) {
      return recurring(v) && (v.repeat_frequency === undefined || v.repeat_frequency === name);
    };
  }

  function inputs(form, name) {
    return Array.prototype.filter.call(form.querySelectorAll("[name]"), function (node) {
      return node.getAttribute("name") === name;
    });
  }

  /** The current value of a radio group, select or input; undefined when the field is absent. */
  function valueOf(form, name) {
    var nodes = inputs(form, name);
    if (!nodes.length) return undefined;
    if (nodes[0].type === "radio") {
      var checked = nodes.filter(function (node) { return node.checked; })[0];
      return checked ? checked.value : "";
    }
    return nodes[0].value;
  }

  function wrapperOf(form, name) {
    var node = inputs(form, name)[0];
    if (!node) return null;
    var field = node.closest("[data-field-wrapper]") || node;
    var start = field.parentElement;
    return (start && start.closest(".w-panel__wrapper, [data-panel]")) || field;
  }

  function apply(form) {
    var values = {};
    DECIDING.forEach(function (name) { values[name] = valueOf(form, name); });
    var rows = [];
    Object.keys(RULES).forEach(function (name) {
      var wrapper = wrapperOf(form, name);
      if (!wrapper) return;
      wrapper.hidden = !RULES[name](values);
      var row = wrapper.parentElement;
      if (row && row.classList.contains("w-field-row") && rows.indexOf(row) < 0) rows.push(row);
    });
    rows.forEach(function (row) {
      var outer = row.closest(".w-panel__wrapper, [data-panel]");
      if (!outer || !form.contains(outer)) return;
      var shown = Array.prototype.some.call(row.children, function (child) { return !child.hidden; });
      outer.hidden = !shown;
    });
  }

  function isDeliveryForm(form) {
    var has = function (name) { return inputs(form, name).length > 0; };
    return (has("audience") && (has("segment") || has("conditions"))) ||
      (has("timing") && (has("send_at") || has("repeat_frequency")));
  }

  function setUp(form) {
    if (form.dataset.kairanDeliveryForm || !isDeliveryForm(form)) return;
    form.dataset.kairanDeliveryForm = "1";
    var update = function (event) {
      var name = event && event.target && event.target.getAttribute && event.target.getAttribute("name");
      if (!event || DECIDING.indexOf(name) >= 0) apply(form);
    };
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    apply(form);
  }

  function scan() {
    document.querySelectorAll("form").forEach(setUp);
  }

  function start() {
    scan();
    // Wagtail may replace parts of the edit form (autosave, a reloaded panel): apply again.
    var pending = false;
    new MutationObserver(function () {
      if (pending) return;
      pending = true;
      window.requestAnimationFrame(function () {
        pending = false;
        scan();
        document.querySelectorAll("form[data-kairan-delivery-form]").forEach(apply);
      });
    }).observe(document.body, { childList: true, subtree: true });
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
