/*
 * Kairan: the segment builder (配信グループ and a delivery's own 条件).
 *
 * Turns each <div data-segment-builder> (deliveries/widgets/segment_builder.html) into a form of
 * groups and conditions, so staff never write JSON: the definition is kept in the container's
 * hidden <textarea>, which the form posts. After each change the number of friends it reaches
 * is counted on the server (debounced) and shown with the definition in words.
 *
 * CSP-safe: no inline script, no eval, no style attributes (classes and the hidden attribute).
 * Builder controls are detached from the surrounding form (form="…" naming no form), so only
 * the textarea is posted and Enter in a number box does not submit the page.
 *
 * Containers present at load and added later (Wagtail swapping parts of the edit form) are
 * initialised once.
 */
(function () {
  "use strict";

  var DETACHED_FORM = "kairan-segment-builder-detached";
  var DEBOUNCE_MS = 300;
  var MATCHES = [
    ["any", "次のどれか"],
    ["all", "次のすべて"],
    ["none", "次のどれでもない"],
  ];
  var OPS = [
    ["and", "すべての条件を満たす（かつ）"],
    ["or", "どれかの条件を満たす（または）"],
  ];
  var DELETED_FIELD = "（削除された項目）";
  var DELETED_CHOICE = "（削除された選択肢）";
  var fieldRequests = {}; // fields URL → Promise of the endpoint's JSON (shared by every builder)
  var serial = 0;

  function nextId(prefix) {
    serial += 1;
    return "ksb-" + prefix + "-" + serial;
  }

  // --- small DOM helpers -------------------------------------------------------------------------

  function el(tag, props, children) {
    var node = document.createElement(tag);
    Object.keys(props || {}).forEach(function (key) {
      var value = props[key];
      if (value === null || value === undefined || value === false) return;
      if (key === "className") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key === "on") {
        Object.keys(value).forEach(function (type) { node.addEventListener(type, value[type]); });
      } else if (value === true) node.setAttribute(key, "");
      else node.setAttribute(key, String(value));
    });
    (children || []).forEach(function (child) {
      if (child === null || child === undefined) return;
      node.appendChild(typeof child === "string" ? document.createTextNode(child) : child);
    });
    return node;
  }

  /** A form control that is not posted with the page's form. */
  function control(tag, props, children) {
    var node = el(tag, Object.assign({ form: DETACHED_FORM }, props), children);
    return node;
  }

  function button(text, className, onClick, extra) {
    return el("button", Object.assign({ type: "button", className: "button button-small " + className, text: text, on: { click: onClick } }, extra || {}));
  }

  // --- the server ----------------------------------------------------------------------------------

  function loadFields(url) {
    if (!fieldRequests[url]) {
      fieldRequests[url] = fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          if (!response.ok) throw new Error("fields " + response.status);
          return response.json();
        })
        .catch(function (error) {
          delete fieldRequests[url]; // try again next time
          throw error;
        });
    }
    return fieldRequests[url];
  }

  function csrfToken(root) {
    var form = root.closest("form");
    var input = (form && form.querySelector("input[name=csrfmiddlewaretoken]")) ||
      document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input && input.value) return input.value;
    var match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // --- the model: JSON ↔ nodes ---------------------------------------------------------------------
  //
  // group:     {kind: "group", op, items}
  // condition: {kind: "condition", field: key | "", type: "choice" | "age" | "friend_since", ...values}
  // raw:       {kind: "raw", raw: original JSON} (a retired or unknown item, kept until deleted)

  function fromJSON(node, fields) {
    if (node && typeof node === "object" && !Array.isArray(node) && "op" in node) {
      var items = Array.isArray(node.items) ? node.items : [];
      return {
        kind: "group",
        op: node.op === "or" ? "or" : "and",
        items: items.map(function (item) { return fromJSON(item, fields); }),
      };
    }
    if (!node || typeof node !== "object") return { kind: "raw", raw: node };
    if (node.type === "friend_since") {
      return { kind: "condition", type: "friend_since", field: "friend_since", after: node.after || "", before: node.before || "" };
    }
    var info = fields.byKey[node.field];
    if (!info || info.retired) return { kind: "raw", raw: node };
    if (node.type === "choice" && info.type === "choice") {
      return {
        kind: "condition", type: "choice", field: info.key,
        match: ["any", "all", "none"].indexOf(node.match) >= 0 ? node.match : "any",
        codes: Array.isArray(node.codes) ? node.codes.map(String) : [],
      };
    }
    if (node.type === "age" && info.type === "birth_year") {
      return {
        kind: "condition", type: "age", field: info.key,
        min: node.min === null || node.min === undefined ? "" : String(node.min),
        max: node.max === null || node.max === undefined ? "" : String(node.max),
      };
    }
    return { kind: "raw", raw: node };
  }

  function number(text) {
    var value = String(text).trim();
    if (value === "") return null;
    return /^\d+$/.test(value) ? parseInt(value, 10) : value; // the server words a wrong value
  }

  /** The definition to post; rows without a chosen item and empty inner groups are left out. */
  function toJSON(node, nested) {
    if (node.kind === "raw") return node.raw;
    if (node.kind === "group") {
      var items = node.items.map(function (item) { return toJSON(item, true); })
        .filter(function (item) { return item !== undefined; });
      if (nested && items.length === 0) return undefined;
      return { op: node.op, items: items };
    }
    if (!node.field) return undefined;
    if (node.type === "choice") {
      return { type: "choice", field: node.field, match: node.match, codes: node.codes.slice() };
    }
    if (node.type === "age") {
      return { type: "age", field: node.field, min: number(node.min), max: number(node.max) };
    }
    return { type: "friend_since", after: node.after || null, before: node.before || null };
  }

  function conditionCount(node) {
    if (node.kind !== "group") return 1;
    return node.items.reduce(function (total, item) { return total + conditionCount(item); }, 0);
  }

  function indexFields(data) {
    var byKey = {};
    (data.fields || []).forEach(function (field) { byKey[field.key] = field; });
    return {
      list: data.fields || [],
      byKey: byKey,
      maxDepth: data.max_depth || 4,
      maxConditions: data.max_conditions || 30,
    };
  }

  // --- one builder -----------------------------------------------------------------------------------

  function Builder(container, fields) {
    this.container = container;
    this.fields = fields;
    this.textarea = container.querySelector("[data-segment-builder-value]");
    this.rootArea = container.querySelector("[data-segment-builder-root]");
    this.countArea = container.querySelector("[data-segment-builder-count]");
    this.textArea = container.querySelector("[data-segment-builder-text]");
    this.errorArea = container.querySelector("[data-segment-builder-error]");
    this.maxDepth = parseInt(container.dataset.maxDepth, 10) || fields.maxDepth;
    this.maxConditions = parseInt(container.dataset.maxConditions, 10) || fields.maxConditions;
    this.timer = null;
    this.request = null;
    this.sequence = 0;
    this.loadError = "";
    this.root = this.parse(this.textarea.value);
    this.render();
    this.count();
  }

  Builder.prototype.parse = function (text) {
    var data;
    try {
      data = JSON.parse(text || "null");
    } catch (error) {
      this.loadError = "保存されていた条件を読み込めませんでした。条件を作り直してください。";
      return { kind: "group", op: "and", items: [] };
    }
    if (data === null || data === undefined) return { kind: "group", op: "and", items: [] };
    var node = fromJSON(data, this.fields);
    return node.kind === "group" ? node : { kind: "group", op: "and", items: [node] };
  };

  Builder.prototype.render = function () {
    this.rootArea.textContent = "";
    this.rootArea.appendChild(this.groupElement(this.root, 0, null));
    this.updateLimits();
    if (this.loadError) this.showError(this.loadError);
  };

  /** After every change: the textarea (what the form posts), the limits and the count. */
  Builder.prototype.changed = function () {
    this.loadError = "";
    this.textarea.value = JSON.stringify(toJSON(this.root, false));
    // Wagtail's unsaved-changes check and preview listen for these on the form.
    this.textarea.dispatchEvent(new Event("input", { bubbles: true }));
    this.textarea.dispatchEvent(new Event("change", { bubbles: true }));
    this.updateLimits();
    this.scheduleCount();
  };

  Builder.prototype.updateLimits = function () {
    var full = conditionCount(this.root) >= this.maxConditions;
    this.rootArea.querySelectorAll("[data-ksb-add]").forEach(function (node) { node.disabled = full; });
    this.rootArea.querySelectorAll("[data-ksb-limit]").forEach(function (node) { node.hidden = !full; });
    this.rootArea.querySelectorAll("[data-ksb-group]").forEach(function (groupNode) {
      var list = groupNode.querySelector(":scope > [data-ksb-items]");
      var empty = groupNode.querySelector(":scope > [data-ksb-empty]");
      if (list && empty) empty.hidden = list.children.length > 0;
    });
  };

  // --- groups ------------------------------------------------------------------------------------------

  Builder.prototype.groupElement = function (group, depth, parent) {
    var self = this;
    var id = nextId("group");
    var title = depth === 0 ? "条件" : "グループ（" + (depth + 1) + "段目）";
    var items = el("ol", { className: "ksb-items", "data-ksb-items": true });
    var node = el("div", {
      className: "ksb-group" + (depth === 0 ? " ksb-group--root" : " ksb-group--nested ksb-depth-" + depth),
      role: "group",
      "aria-labelledby": id + "-title",
      "data-ksb-group": true,
    });
    // (the root's title repeats the field's own label: there for screen readers only)
    node.appendChild(el("p", { className: "ksb-group__title" + (depth === 0 ? " ksb-sr" : ""), id: id + "-title", text: title }));

    var opName = id + "-op";
    var ops = el("fieldset", { className: "ksb-op" }, [
      el("legend", { className: "ksb-op__legend", text: "条件のまとめ方" }),
    ]);
    OPS.forEach(function (pair) {
      var radio = control("input", {
        type: "radio", name: opName, value: pair[0], id: opName + "-" + pair[0], checked: group.op === pair[0],
        on: { change: function () { if (radio.checked) { group.op = pair[0]; self.changed(); } } },
      });
      ops.appendChild(el("label", { className: "ksb-choice ksb-op__choice", for: radio.id }, [radio, el("span", { text: pair[1] })]));
    });
    node.appendChild(ops);

    node.appendChild(el("p", {
      className: "ksb-empty", "data-ksb-empty": true,
      text: depth === 0 ? "条件がありません（受信設定を登録した友だち全員に届きます）。" : "このグループには条件がありません。",
    }));
    node.appendChild(items);
    group.items.forEach(function (item) { items.appendChild(self.itemElement(item, group, depth)); });

    var actions = el("div", { className: "ksb-actions" });
    actions.appendChild(button("条件を追加", "button-secondary ksb-add", function () {
      var condition = { kind: "condition", field: "", type: "", codes: [], match: "any" };
      group.items.push(condition);
      var row = self.itemElement(condition, group, depth);
      items.appendChild(row);
      self.changed();
      row.querySelector("select").focus();
    }, { "data-ksb-add": true }));
    if (depth + 1 < this.maxDepth) {
      actions.appendChild(button("グループを追加", "button-secondary ksb-add", function () {
        var condition = { kind: "condition", field: "", type: "", codes: [], match: "any" };
        var inner = { kind: "group", op: group.op === "and" ? "or" : "and", items: [condition] };
        group.items.push(inner);
        var row = self.itemElement(inner, group, depth);
        items.appendChild(row);
        self.changed();
        row.querySelector("select").focus();
      }, { "data-ksb-add": true }));
    }
    if (parent) {
      actions.appendChild(button("削除", "button-secondary no ksb-remove", function () {
        self.remove(group, parent, node.closest("li"));
      }, { "aria-describedby": id + "-title" }));
    }
    actions.appendChild(el("p", {
      className: "ksb-limit", "data-ksb-limit": true, hidden: true,
      text: "条件は" + this.maxConditions + "個までです。",
    }));
    node.appendChild(actions);
    return node;
  };

  Builder.prototype.itemElement = function (item, group, depth) {
    var li = el("li", { className: "ksb-item" });
    if (item.kind === "group") li.appendChild(this.groupElement(item, depth + 1, group));
    else if (item.kind === "raw") li.appendChild(this.rawElement(item, group));
    else li.appendChild(this.conditionElement(item, group));
    return li;
  };

  /** Remove an item of ``parent`` and move the focus to a neighbour (or the group's add button). */
  Builder.prototype.remove = function (item, parent, li) {
    parent.items.splice(parent.items.indexOf(item), 1);
    var next = li.nextElementSibling || li.previousElementSibling;
    var groupNode = li.parentElement.closest("[data-ksb-group]");
    li.remove();
    this.changed();
    var target = next ? next.querySelector("select, input, button") : null;
    if (!target && groupNode) target = groupNode.querySelector(":scope > .ksb-actions > [data-ksb-add]");
    if (target) target.focus();
  };

  // --- conditions --------------------------------------------------------------------------------------

  Builder.prototype.rawElement = function (item, group) {
    var self = this;
    var id = nextId("raw");
    var raw = item.raw || {};
    var info = raw && typeof raw === "object" ? this.fields.byKey[raw.field] : null;
    var text = info ? info.label + DELETED_FIELD : DELETED_FIELD;
    var node = el("div", { className: "ksb-condition ksb-condition--deleted" }, [
      el("p", { className: "ksb-deleted", id: id, text: text }),
      el("p", { className: "help", text: "受信設定フォームから削除された項目の条件です。削除してください。" }),
    ]);
    node.appendChild(el("div", { className: "ksb-condition__remove" }, [
      button("削除", "button-secondary no ksb-remove", function () { self.remove(item, group, node.closest("li")); }, { "aria-describedby": id }),
    ]));
    return node;
  };

  Builder.prototype.conditionElement = function (condition, group) {
    var self = this;
    var id = nextId("condition");
    var detail = el("div", { className: "ksb-condition__detail" });
    var summary = el("span", { className: "w-sr-only ksb-sr", id: id + "-summary" });
    function describe() {
      var info = self.fields.byKey[condition.field];
      summary.textContent = info ? "「" + info.label + "」の条件" : "項目を選んでいない条件";
    }
    var select = control("select", {
      id: id + "-field",
      className: "ksb-field",
      on: {
        change: function () {
          var info = self.fields.byKey[select.value];
          condition.field = select.value;
          condition.type = !info ? "" : info.type === "birth_year" ? "age" : info.type;
          condition.codes = [];
          condition.match = "any";
          condition.min = condition.max = condition.after = condition.before = "";
          describe();
          self.renderDetail(detail, condition);
          self.changed();
        },
      },
    }, [el("option", { value: "", text: "選んでください" })]);
    this.fields.list.forEach(function (info) {
      if (info.retired) return;
      select.appendChild(el("option", { value: info.key, text: info.label, selected: info.key === condition.field }));
    });
    var node = el("div", { className: "ksb-condition" }, [
      el("div", { className: "ksb-condition__field" }, [
        el("label", { className: "ksb-label", for: select.id, text: "項目" }),
        select,
      ]),
      detail,
      el("div", { className: "ksb-condition__remove" }, [
        summary,
        button("削除", "button-secondary no ksb-remove", function () { self.remove(condition, group, node.closest("li")); }, { "aria-describedby": summary.id }),
      ]),
    ]);
    describe();
    this.renderDetail(detail, condition);
    return node;
  };

  Builder.prototype.renderDetail = function (detail, condition) {
    detail.textContent = "";
    if (!condition.field) {
      detail.appendChild(el("p", { className: "help ksb-hint", text: "条件にする項目を選んでください。" }));
      return;
    }
    if (condition.type === "choice") this.choiceDetail(detail, condition);
    else if (condition.type === "age") this.ageDetail(detail, condition);
    else if (condition.type === "friend_since") this.friendSinceDetail(detail, condition);
  };

  Builder.prototype.choiceDetail = function (detail, condition) {
    var self = this;
    var info = this.fields.byKey[condition.field];
    var id = nextId("match");
    var match = control("select", {
      id: id, className: "ksb-match",
      on: { change: function () { condition.match = match.value; self.changed(); } },
    });
    MATCHES.forEach(function (pair) {
      // 「次のすべて」 of a one-answer item selects nobody with two codes: offered for several-answer items
      if (pair[0] === "all" && info.multiple === false && condition.match !== "all") return;
      match.appendChild(el("option", { value: pair[0], text: pair[1], selected: condition.match === pair[0] }));
    });
    detail.appendChild(el("div", { className: "ksb-condition__match" }, [
      el("label", { className: "ksb-label", for: id, text: "一致のしかた" }), match,
    ]));

    var choices = el("fieldset", { className: "ksb-choices" }, [
      el("legend", { className: "ksb-label", text: "選択肢" }),
    ]);
    var known = {};
    var options = (info.choices || []).map(function (choice) { known[choice.code] = true; return choice; });
    condition.codes.forEach(function (code) {
      if (!known[code]) options.push({ code: code, label: DELETED_CHOICE });
    });
    options.forEach(function (choice) {
      var box = control("input", {
        type: "checkbox", value: choice.code, id: nextId("choice"), checked: condition.codes.indexOf(choice.code) >= 0,
        on: {
          change: function () {
            var picked = condition.codes.filter(function (code) { return code !== choice.code; });
            if (box.checked) picked.push(choice.code);
            // in the form's order
            condition.codes = options.map(function (o) { return o.code; })
              .filter(function (code) { return picked.indexOf(code) >= 0; });
            self.changed();
          },
        },
      });
      choices.appendChild(el("label", { className: "ksb-choice", for: box.id }, [box, el("span", { text: choice.label })]));
    });
    detail.appendChild(choices);
  };

  Builder.prototype.rangeDetail = function (detail, condition, spec) {
    var self = this;
    var box = el("fieldset", { className: "ksb-range" }, [el("legend", { className: "ksb-label", text: spec.legend })]);
    spec.inputs.forEach(function (part, index) {
      var input = control("input", Object.assign({
        id: nextId(spec.kind), className: "ksb-range__input", value: condition[part.key] || "",
        on: { input: function () { condition[part.key] = input.value; self.changed(); } },
      }, spec.attrs));
      if (index > 0) box.appendChild(el("span", { className: "ksb-range__sep", "aria-hidden": "true", text: "〜" }));
      box.appendChild(el("label", { className: "ksb-range__part", for: input.id }, [input, el("span", { text: part.label })]));
    });
    box.appendChild(el("p", { className: "help", text: spec.help }));
    detail.appendChild(box);
  };

  Builder.prototype.ageDetail = function (detail, condition) {
    this.rangeDetail(detail, condition, {
      kind: "age", legend: "年齢",
      attrs: { type: "number", min: "0", max: "150", step: "1", inputmode: "numeric" },
      inputs: [{ key: "min", label: "歳以上" }, { key: "max", label: "歳以下" }],
      help: "どちらかは空欄にできます。年齢は配信する日の年齢です。",
    });
  };

  Builder.prototype.friendSinceDetail = function (detail, condition) {
    this.rangeDetail(detail, condition, {
      kind: "since", legend: "友だちになった日",
      attrs: { type: "date" },
      inputs: [{ key: "after", label: "以降" }, { key: "before", label: "以前" }],
      help: "どちらかは空欄にできます。指定した日も含みます。",
    });
  };

  // --- the count ---------------------------------------------------------------------------------------

  Builder.prototype.scheduleCount = function () {
    var self = this;
    window.clearTimeout(this.timer);
    this.timer = window.setTimeout(function () { self.count(); }, DEBOUNCE_MS);
  };

  Builder.prototype.showError = function (message) {
    this.errorArea.textContent = message; // (the alert region stays in place, empty when all is well)
  };

  Builder.prototype.count = function () {
    var self = this;
    var url = this.container.dataset.countUrl;
    if (!url) return;
    if (this.request) this.request.abort();
    var controller = "AbortController" in window ? new AbortController() : null;
    this.request = controller;
    this.sequence += 1;
    var sequence = this.sequence;
    this.container.classList.add("ksb-counting");
    fetch(url, {
      method: "POST",
      credentials: "same-origin",
      signal: controller ? controller.signal : undefined,
      headers: {
        "Content-Type": "application/json",
        Accept: "application/json",
        "X-CSRFToken": csrfToken(this.container),
      },
      body: JSON.stringify({ definition: toJSON(this.root, false) }),
    })
      .then(function (response) {
        return response.json().then(
          function (data) { return { ok: response.ok, data: data }; },
          function () { return { ok: false, data: { error: "人数を数えられませんでした。ページを読み込み直してください。" } }; }
        );
      })
      .then(function (result) {
        if (sequence !== self.sequence) return;
        self.container.classList.remove("ksb-counting");
        if (result.ok) {
          self.countArea.textContent = "該当する友だち: " + Number(result.data.count).toLocaleString("ja-JP") + " 人";
          self.textArea.textContent = result.data.text || "";
          self.showError(self.loadError);
        } else {
          self.countArea.textContent = "該当する友だち: －";
          self.textArea.textContent = "";
          self.showError(result.data.error || "人数を数えられませんでした。");
        }
      })
      .catch(function (error) {
        if (error && error.name === "AbortError") return;
        if (sequence !== self.sequence) return;
        self.container.classList.remove("ksb-counting");
        self.showError("人数を数えられませんでした。通信を確かめてください。");
      });
  };

  // --- start ---------------------------------------------------------------------------------------------

  function init(container) {
    if (container.dataset.segmentBuilderReady) return;
    if (container.closest("template")) return; // not in the document yet
    container.dataset.segmentBuilderReady = "1";
    var errorArea = container.querySelector("[data-segment-builder-error]");
    loadFields(container.dataset.fieldsUrl)
      .then(function (data) { new Builder(container, indexFields(data)); })
      .catch(function () {
        var loading = container.querySelector(".kairan-segment-builder__loading");
        if (loading) loading.textContent = "";
        if (errorArea) errorArea.textContent = "受信設定の項目を読み込めませんでした。ページを読み込み直してください。";
        delete container.dataset.segmentBuilderReady;
      });
  }

  function scan(root) {
    if (root.nodeType !== 1) return;
    if (root.matches("[data-segment-builder]")) init(root);
    root.querySelectorAll("[data-segment-builder]").forEach(init);
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
