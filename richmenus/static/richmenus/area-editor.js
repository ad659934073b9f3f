// The visual area editor of a メニューセット's tabs, in the Wagtail editor.
//
// Progressive enhancement: the numeric x / y / width / height fields of each area stay the
// form's values (and the accessible way to edit them); this draws each tab as a scaled canvas
// with the tab strip and the areas over it, lets staff drag (move) and resize them, or use the
// arrow keys, and writes back into the fields. With a standard layout it shows, and writes, the
// bounds the server will give the areas (the same grid as line_channel/richmenu_design/layouts.py
// and richmenus.blocks.layout_problems, computed by area-geometry.js, which loads first and
// shares its functions through window.KairanAreaEditor), so what staff see is what is saved.
//
// CSP-safe: static files, no inline handlers, no eval; only element.style is set.
(() => {
  "use strict";

  const { WIDTH, HEIGHTS, SNAP, tabRects, layoutTiles, snap, stepBounds, check } = window.KairanAreaEditor;
  const DRAG_THRESHOLD = 3; // screen px before a press becomes a drag
  const FIELDS = ["x", "y", "width", "height"];
  const BOUND_INPUT = /-value-areas-\d+-value-(x|y|width|height)$/;

  const editors = new Map(); // the tab's block element -> its editor

  // --- the form: tabs and areas as Wagtail renders them ----------------------------------------

  const byId = (id) => document.getElementById(id);

  function isDeleted(child) {
    const prefix = childPrefix(child);
    const input = prefix && document.getElementsByName(`${prefix}-deleted`)[0];
    return Boolean(input && input.value === "1") || child.getAttribute("aria-hidden") === "true";
  }

  // The prefix of a StreamField / ListBlock child ("tabs-0", "tabs-0-value-areas-3").
  function childPrefix(child) {
    for (const input of child.children) {
      if (input.tagName === "INPUT" && input.name.endsWith("-deleted")) return input.name.slice(0, -8);
    }
    return null;
  }

  function liveChildren(container) {
    if (!container) return [];
    return Array.from(container.children).filter(
      (el) => el.matches("[data-streamfield-child]") && !isDeleted(el),
    );
  }

  // Every tab block of the page: a select "<prefix>-value-layout" next to a size select and an
  // areas list. (Nothing on other editor pages.)
  function findTabs() {
    const tabs = [];
    for (const select of document.querySelectorAll('select[id$="-value-layout"]')) {
      const prefix = select.id.slice(0, -"-value-layout".length);
      const size = byId(`${prefix}-value-size`);
      const count = document.getElementsByName(`${prefix}-value-areas-count`)[0];
      const element = select.closest("[data-streamfield-child]");
      if (!size || !count || !element || select.closest("template")) continue;
      tabs.push({ prefix, element, layoutSelect: select, sizeSelect: size });
    }
    return tabs;
  }

  // The tab's layout field and its areas field (siblings in the tab's StructBlock).
  function fieldsOf(tab) {
    const field = tab.layoutSelect.closest('[data-contentpath="layout"]');
    const struct = field && field.parentElement;
    return { field, areasField: struct && struct.querySelector(':scope > [data-contentpath="areas"]') };
  }

  function areasOf(tab) {
    const { areasField } = fieldsOf(tab);
    const container = areasField && areasField.querySelector("[data-streamfield-list-container]");
    return liveChildren(container)
      .map((child) => {
        const prefix = `${childPrefix(child)}-value`;
        const inputs = {};
        for (const name of FIELDS) inputs[name] = byId(`${prefix}-${name}`);
        return { element: child, inputs, labelInput: byId(`${prefix}-label`) };
      })
      .filter((area) => FIELDS.every((name) => area.inputs[name]));
  }

  function readBounds(area) {
    const bounds = {};
    for (const name of FIELDS) {
      const text = area.inputs[name].value.trim();
      if (!/^-?\d+$/.test(text)) return null;
      bounds[name] = Number(text);
    }
    return bounds;
  }

  // Set the area's inputs; with ``events`` the change is announced as typing would be.
  function writeBounds(area, bounds, events = ["input", "change"]) {
    for (const name of FIELDS) {
      const input = area.inputs[name];
      const value = String(bounds[name]);
      if (input.value === value) continue;
      input.value = value;
      for (const type of events) input.dispatchEvent(new Event(type, { bubbles: true }));
    }
  }

  function setText(element, text) {
    if (element.textContent !== text) element.textContent = text;
  }

  function announce(element, types) {
    for (const type of types) element.dispatchEvent(new Event(type, { bubbles: true }));
  }

  // --- one tab's editor ---------------------------------------------------------------------

  function make(tag, className, parent) {
    const element = document.createElement(tag);
    if (className) element.className = className;
    if (parent) parent.appendChild(element);
    return element;
  }

  // Give ``parent`` exactly ``count`` children (new ones are ``className`` divs); returns them.
  function fill(parent, count, className) {
    while (parent.children.length > count) parent.lastElementChild.remove();
    while (parent.children.length < count) make("div", className, parent);
    return parent.children;
  }

  let uid = 0;

  class TabEditor {
    constructor(tab) {
      this.tab = tab;
      uid += 1;
      this.root = make("div", "rm-editor");
      this.root.dataset.rmAreaEditor = "";
      const heading = make("p", "rm-editor__heading", this.root);
      heading.textContent = "エリアの配置";
      this.hint = make("p", "rm-editor__hint", this.root);
      this.hint.id = `rm-editor-hint-${uid}`;
      this.canvas = make("div", "rm-editor__canvas", this.root);
      this.canvas.setAttribute("role", "group");
      this.image = make("div", "rm-editor__image", this.canvas);
      this.strip = make("div", "rm-editor__strip", this.canvas);
      this.strip.setAttribute("aria-hidden", "true");
      this.slots = make("div", "rm-editor__slots", this.canvas);
      this.slots.setAttribute("aria-hidden", "true");
      this.rects = [];
      const status = make("div", "rm-editor__status", this.root);
      status.setAttribute("aria-live", "polite");
      this.summary = make("p", "rm-editor__summary", status);
      this.problems = make("ul", "rm-editor__problems", status);
      this.drag = null;
      this.insert();
    }

    insert() {
      const { field, areasField } = fieldsOf(this.tab);
      if (areasField) areasField.before(this.root);
      else if (field) field.after(this.root);
    }

    get attached() {
      return this.root.isConnected && this.tab.layoutSelect.isConnected;
    }

    // The state of the tab as the form has it now.
    read() {
      const tab = this.tab;
      const siblings = liveChildren(tab.element.parentElement);
      const size = tab.sizeSelect.value in HEIGHTS ? tab.sizeSelect.value : "large";
      return {
        number: siblings.indexOf(tab.element) + 1,
        titles: siblings.map((el) => {
          const input = byId(`${childPrefix(el)}-value-title`);
          return input ? input.value : "";
        }),
        tabCount: siblings.length,
        size,
        height: HEIGHTS[size],
        layout: tab.layoutSelect.value,
        areas: areasOf(tab),
      };
    }

    // Standard layout: give the areas the layout's bounds (what the server will save).
    place(state, except = null) {
      const tiles = layoutTiles(state.layout, state.size, state.tabCount);
      if (tiles) {
        state.areas.forEach((area, i) => {
          if (i < tiles.length && area.element !== except) writeBounds(area, tiles[i]);
        });
      }
      return tiles;
    }

    // Staff typed a bound of an area: a standard layout becomes 自由, the other areas staying
    // where the layout put them and this one taking the typed value.
    typed(input) {
      const state = this.read();
      const tiles = layoutTiles(state.layout, state.size, state.tabCount);
      const area = state.areas.find((item) => FIELDS.some((name) => item.inputs[name] === input));
      if (!area || !tiles) return;
      this.place(state, area.element);
      const index = state.areas.indexOf(area);
      if (index < tiles.length) {
        const typedName = FIELDS.find((name) => area.inputs[name] === input);
        writeBounds(area, { ...tiles[index], [typedName]: input.value });
      }
      this.makeFree(state);
    }

    refresh() {
      const state = this.read();
      if (state.number < 1) return; // (the tab is being deleted)
      const tiles = this.place(state);
      const strip = state.tabCount > 1 ? tabRects(state.size, state.tabCount) : [];
      const bounds = state.areas.map(readBounds);
      const { problems, bad } = check(bounds, state.height, tiles, strip);

      this.canvas.setAttribute("aria-label", `タブ ${state.number} の配置`);
      this.canvas.style.aspectRatio = `${WIDTH} / ${state.height}`;
      this.canvas.classList.toggle("rm-editor__canvas--tabs", strip.length > 0);
      this.drawImage();
      this.drawStrip(strip, state);
      this.drawSlots(tiles ? tiles.slice(state.areas.length) : [], state);
      this.drawAreas(state, bounds, bad, tiles);

      setText(
        this.hint,
        tiles
          ? "標準のレイアウトでは、エリアは順番にこの位置に置かれます。" +
              "エリアをドラッグするか位置や大きさの数字を変えると、レイアウトが「自由」に切り替わります。"
          : "エリアをドラッグして移動し、右下の角で大きさを変えます（10px 単位）。" +
              "選んで矢印キーで 10px 移動、Shift+矢印キーで大きさを変えます。Enter で数字の欄へ。",
      );
      // (The status is a live region: it changes only when the problems do.)
      setText(
        this.summary,
        problems.length
          ? `配置に問題が ${problems.length} 件あります。`
          : `エリア ${state.areas.length} 個。重なりやはみ出しはありません。`,
      );
      this.summary.classList.toggle("rm-editor__summary--bad", problems.length > 0);
      const shown = Array.from(this.problems.children, (item) => item.textContent);
      if (shown.join("\n") !== problems.join("\n")) {
        this.problems.replaceChildren(
          ...problems.map((text) => {
            const item = make("li");
            item.textContent = text;
            return item;
          }),
        );
      }
      this.problems.hidden = problems.length === 0;
    }

    // An uploaded image: its chooser's thumbnail, stretched under the areas (a guide only).
    drawImage() {
      const source = byId(`${this.tab.prefix}-value-image_source`);
      const chooser = byId(`${this.tab.prefix}-value-image-chooser`);
      const thumbnail = chooser && chooser.querySelector("img[data-chooser-image]");
      const src =
        source && source.value === "upload" && thumbnail && !chooser.classList.contains("blank")
          ? thumbnail.getAttribute("src")
          : "";
      const value = src ? `url("${src.replace(/["\\\n]/g, "")}")` : "";
      if (this.image.style.backgroundImage !== value) this.image.style.backgroundImage = value;
      this.image.hidden = !src;
    }

    drawStrip(strip, state) {
      const elements = fill(this.strip, strip.length, "rm-editor__tab");
      strip.forEach((rect, i) => {
        const element = elements[i];
        position(element, rect, state.height);
        setText(element, state.titles[i] || `タブ ${i + 1}`);
        element.classList.toggle("rm-editor__tab--current", i === state.number - 1);
      });
      this.strip.hidden = strip.length === 0;
    }

    drawSlots(tiles, state) {
      const elements = fill(this.slots, tiles.length, "rm-editor__slot");
      tiles.forEach((rect, i) => {
        position(elements[i], rect, state.height);
        setText(elements[i], "空き");
      });
    }

    drawAreas(state, bounds, bad, tiles) {
      while (this.rects.length > state.areas.length) this.rects.pop().remove();
      while (this.rects.length < state.areas.length) this.rects.push(this.newRect());
      state.areas.forEach((area, i) => {
        const element = this.rects[i];
        const rect = bounds[i];
        const label = (area.labelInput && area.labelInput.value.trim()) || "（名前なし）";
        element.dataset.areaNumber = String(i + 1);
        setText(element.querySelector(".rm-editor__number"), String(i + 1));
        setText(element.querySelector(".rm-editor__label"), label);
        element.classList.toggle("rm-editor__area--bad", bad.has(i));
        element.classList.toggle("rm-editor__area--extra", Boolean(tiles) && i >= tiles.length);
        element.hidden = !rect;
        if (!rect) return;
        position(element, rect, state.height);
        element.setAttribute(
          "aria-label",
          `エリア ${i + 1}「${label}」 左 ${rect.x}、上 ${rect.y}、幅 ${rect.width}、高さ ${rect.height}（px）` +
            (bad.has(i) ? "、問題あり" : ""),
        );
      });
    }

    newRect() {
      const element = make("div", "rm-editor__area", this.canvas);
      element.tabIndex = 0;
      element.setAttribute("role", "button");
      element.setAttribute("aria-roledescription", "エリア");
      element.setAttribute("aria-describedby", this.hint.id);
      make("span", "rm-editor__number", element);
      make("span", "rm-editor__label", element);
      const handle = make("span", "rm-editor__handle", element);
      handle.setAttribute("aria-hidden", "true");
      element.addEventListener("pointerdown", (event) => this.pointerDown(event, element));
      element.addEventListener("pointermove", (event) => this.pointerMove(event));
      element.addEventListener("pointerup", (event) => this.pointerUp(event));
      element.addEventListener("pointercancel", (event) => this.pointerUp(event));
      element.addEventListener("keydown", (event) => this.keyDown(event, element));
      return element;
    }

    // The area of a rectangle element, its bounds, and the state (layout switched to "free").
    grab(element) {
      const index = this.rects.indexOf(element);
      const state = this.read();
      const area = state.areas[index];
      if (!area) return null;
      this.place(state); // (a standard layout: the inputs hold where the area is drawn)
      const bounds = readBounds(area);
      return bounds && { index, area, bounds, state };
    }

    makeFree(state) {
      if (state.layout === "free") return;
      const select = this.tab.layoutSelect;
      if (!Array.from(select.options).some((option) => option.value === "free")) return;
      // The positions stay: every area's inputs already hold its layout bounds.
      select.value = "free";
      announce(select, ["input", "change"]);
    }

    pointerDown(event, element) {
      if (event.button !== 0 || this.drag) return;
      const grabbed = this.grab(element);
      if (!grabbed) return;
      event.preventDefault();
      element.focus({ preventScroll: true });
      element.setPointerCapture(event.pointerId);
      const scale = this.canvas.getBoundingClientRect().width / WIDTH;
      this.drag = {
        ...grabbed,
        element,
        pointerId: event.pointerId,
        resize: Boolean(event.target.closest(".rm-editor__handle")),
        startX: event.clientX,
        startY: event.clientY,
        scale,
        moved: false,
      };
    }

    pointerMove(event) {
      const drag = this.drag;
      if (!drag || event.pointerId !== drag.pointerId) return;
      const dx = event.clientX - drag.startX;
      const dy = event.clientY - drag.startY;
      if (!drag.moved) {
        if (Math.hypot(dx, dy) < DRAG_THRESHOLD) return;
        drag.moved = true;
        this.makeFree(drag.state);
        this.root.classList.add("rm-editor--dragging");
      }
      // In steps of 10 px from where the area was (so a layout's edges, e.g. 833, stay reachable
      // and an axis the pointer did not move does not change), kept inside the image.
      const stepX = snap(dx / drag.scale);
      const stepY = snap(dy / drag.scale);
      writeBounds(drag.area, stepBounds(drag.bounds, drag.state.height, stepX, stepY, drag.resize), ["input"]);
      this.refresh();
    }

    pointerUp(event) {
      const drag = this.drag;
      if (!drag || event.pointerId !== drag.pointerId) return;
      this.drag = null;
      this.root.classList.remove("rm-editor--dragging");
      if (drag.element.hasPointerCapture(event.pointerId)) drag.element.releasePointerCapture(event.pointerId);
      if (!drag.moved) return;
      for (const name of FIELDS) {
        if (Number(drag.area.inputs[name].value) !== drag.bounds[name]) {
          announce(drag.area.inputs[name], ["change"]);
        }
      }
      this.refresh();
    }

    keyDown(event, element) {
      if (event.key === "Enter") {
        // To the area's fields (the full form of the area).
        const grabbed = this.grab(element);
        if (grabbed) {
          event.preventDefault();
          const toggle = grabbed.area.element.querySelector("[data-panel-toggle]");
          if (toggle && toggle.getAttribute("aria-expanded") === "false") toggle.click();
          grabbed.area.inputs.x.focus();
        }
        return;
      }
      const steps = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
      const step = steps[event.key];
      if (!step || event.altKey || event.ctrlKey || event.metaKey) return;
      const grabbed = this.grab(element);
      if (!grabbed) return;
      event.preventDefault();
      const next = stepBounds(grabbed.bounds, grabbed.state.height, step[0] * SNAP, step[1] * SNAP, event.shiftKey);
      if (FIELDS.every((name) => next[name] === grabbed.bounds[name])) return;
      this.makeFree(grabbed.state);
      writeBounds(grabbed.area, next);
      this.refresh();
    }
  }

  // Place an element over the canvas in percent of the image, so it scales with the canvas.
  function position(element, rect, imageHeight) {
    const style = element.style;
    style.left = `${(rect.x / WIDTH) * 100}%`;
    style.top = `${(rect.y / imageHeight) * 100}%`;
    style.width = `${(rect.width / WIDTH) * 100}%`;
    style.height = `${(rect.height / imageHeight) * 100}%`;
  }

  // --- keeping up with the form -----------------------------------------------------------------

  function refreshAll() {
    const tabs = findTabs();
    const current = new Set(tabs.map((tab) => tab.element));
    for (const [element, editor] of editors) {
      if (!current.has(element) || !editor.attached) {
        editor.root.remove();
        editors.delete(element);
      }
    }
    for (const tab of tabs) {
      let editor = editors.get(tab.element);
      if (!editor || editor.tab.layoutSelect !== tab.layoutSelect) {
        if (editor) editor.root.remove();
        editor = new TabEditor(tab);
        editors.set(tab.element, editor);
      }
      if (!isDeleted(tab.element)) editor.refresh();
    }
  }

  let scheduled = false;
  function schedule() {
    if (scheduled) return;
    scheduled = true;
    const run = () => {
      scheduled = false;
      refreshAll();
    };
    if (document.hidden) setTimeout(run, 0);
    else requestAnimationFrame(run);
  }

  const ours = (node) => {
    const element = node.nodeType === 1 ? node : node.parentElement;
    return Boolean(element && element.closest("[data-rm-area-editor]"));
  };

  function start() {
    const form = document.querySelector("form[data-edit-form]") || document.querySelector("form#w-editor-form");
    if (!form) return;
    const watched = (event) => {
      const target = event.target;
      if (ours(target) || !target.closest || !target.closest("[data-streamfield-child]")) return;
      if (event.type === "input" && event.isTrusted && BOUND_INPUT.test(target.id || "")) {
        for (const editor of editors.values()) {
          if (editor.tab.element.contains(target)) editor.typed(target);
        }
      }
      schedule();
    };
    form.addEventListener("input", watched);
    form.addEventListener("change", watched);
    new MutationObserver((mutations) => {
      if (mutations.some((mutation) => !ours(mutation.target))) schedule();
    }).observe(form, { childList: true, subtree: true, attributes: true, attributeFilter: ["aria-hidden", "src", "class"] });
    schedule();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
