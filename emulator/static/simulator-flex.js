// Flex Message rendering for the phone simulator: bubbles and carousels with LINE's box model.
//
// Sizes and spacings follow the keywords of LINE's Flex Message reference (none, xs … xxl,
// xxs … 5xl); pixel and percentage values are used as they are. In a horizontal or
// baseline box a child without `flex` takes flex 1, in a vertical box flex 0, as on LINE.

const SPACING = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };
const TEXT_SIZE = {
  xxs: 11, xs: 13, sm: 14, md: 16, lg: 19, xl: 22, xxl: 29, "3xl": 35, "4xl": 48, "5xl": 74,
};
const IMAGE_SIZE = {
  xxs: 40, xs: 60, sm: 80, md: 100, lg: 120, xl: 140, xxl: 160, "3xl": 180, "4xl": 200, "5xl": 240,
};
const BORDER_WIDTH = { none: 0, light: 0.5, normal: 1, medium: 2, "semi-bold": 3, bold: 4 };
const CORNER = { none: 0, xs: 2, sm: 4, md: 8, lg: 12, xl: 16, xxl: 20 };
const BUBBLE_WIDTH = { nano: 120, micro: 160, deca: 220, hecto: 241, kilo: 260, mega: 300, giga: 500 };
const JUSTIFY = {
  "flex-start": "flex-start", "flex-end": "flex-end", center: "center",
  "space-between": "space-between", "space-around": "space-around", "space-evenly": "space-evenly",
};
const ALIGN = { "flex-start": "flex-start", "flex-end": "flex-end", center: "center" };

function length(value, table) {
  if (value === undefined || value === null || value === "") return null;
  if (table && Object.prototype.hasOwnProperty.call(table, value)) return `${table[value]}px`;
  if (/^-?\d+(\.\d+)?(px|%)$/.test(String(value))) return String(value);
  return null;
}

function el(tag, className) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  return node;
}

function safeColor(value) {
  return typeof value === "string" && /^#[0-9a-fA-F]{3,8}$/.test(value) ? value : null;
}

function isSafeImageUrl(url) {
  return typeof url === "string" && /^(https?:\/\/|\/)/i.test(url);
}

// An image that shows a neat placeholder when it cannot load (offline machines).
export function image(url, alt, className) {
  const frame = el("span", `img-frame ${className || ""}`);
  const fallback = () => {
    frame.replaceChildren();
    frame.classList.add("img-missing");
    const label = el("span", "img-missing-label");
    label.textContent = alt ? `画像：${alt}` : "画像を表示できません";
    const address = el("span", "img-missing-url");
    address.textContent = url || "";
    frame.append(label, address);
  };
  if (!isSafeImageUrl(url)) {
    fallback();
    return frame;
  }
  const img = el("img");
  img.alt = alt || "";
  img.decoding = "async";
  img.referrerPolicy = "no-referrer";
  img.addEventListener("error", fallback, { once: true });
  img.src = url;
  frame.append(img);
  return frame;
}

export function actionName(action) {
  if (!action || typeof action !== "object") return "";
  return action.label || action.text || action.displayText || action.data || action.uri || "";
}

function clickable(node, action, onAction, name) {
  if (!action) return node;
  node.classList.add("flex-action");
  node.tabIndex = 0;
  node.setAttribute("role", "button");
  const label = name || actionName(action);
  if (label) node.setAttribute("aria-label", label);
  const fire = (event) => {
    event.stopPropagation();
    onAction(action, event.currentTarget);
  };
  node.addEventListener("click", fire);
  node.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      fire(event);
    }
  });
  return node;
}

// A box or bubble with an action may hold buttons of its own: a click anywhere on it acts,
// and keyboard and screen-reader users get a (visually hidden until focused) button for it.
function clickableContainer(node, action, onAction) {
  if (!action) return node;
  node.classList.add("flex-action");
  node.addEventListener("click", (event) => {
    if (event.target.closest("button, [role=button]") && event.target !== node) return;
    event.stopPropagation();
    onAction(action, node);
  });
  const button = el("button", "flex-container-action");
  button.type = "button";
  button.textContent = actionName(action) || "開く";
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    onAction(action, button);
  });
  node.prepend(button);
  return node;
}

// Margin before a child: its own `margin`, else the parent's `spacing` (not before the first).
function applyMargin(node, component, parent, index) {
  const own = length(component.margin, SPACING);
  const spacing = index > 0 ? length(parent.spacing, SPACING) : null;
  const value = own || spacing;
  if (!value || component.position === "absolute") return;
  if (parent.layout === "vertical") node.style.marginTop = value;
  else node.style.marginInlineStart = value;
}

function applyFlex(node, component, parent) {
  const horizontal = parent.layout === "horizontal" || parent.layout === "baseline";
  let flex = component.flex;
  if (flex === undefined || flex === null) flex = horizontal ? 1 : 0;
  flex = Number(flex);
  if (!Number.isFinite(flex) || flex < 0) flex = horizontal ? 1 : 0;
  if (horizontal) {
    node.style.flex = flex > 0 ? `${flex} 1 0px` : "0 0 auto";
    node.style.minWidth = "0";
  } else {
    node.style.flex = flex > 0 ? `${flex} 1 0px` : "0 0 auto";
  }
}

function applyPosition(node, component) {
  if (component.position === "absolute") node.style.position = "absolute";
  const offsets = { offsetTop: "top", offsetBottom: "bottom", offsetStart: "left", offsetEnd: "right" };
  for (const [key, property] of Object.entries(offsets)) {
    const value = length(component[key], SPACING);
    if (value) {
      if (component.position !== "absolute") node.style.position = "relative";
      node.style[property] = value;
    }
  }
}

function applyGravity(node, component, parent) {
  const gravity = { top: "flex-start", center: "center", bottom: "flex-end" }[component.gravity];
  if (gravity && parent.layout !== "baseline" && parent.layout !== "vertical") node.style.alignSelf = gravity;
}

function renderText(component, parent, onAction) {
  const node = el("p", "flex-text");
  const size = length(component.size, TEXT_SIZE) || `${TEXT_SIZE.md}px`;
  node.style.fontSize = size;
  if (component.weight === "bold") node.style.fontWeight = "700";
  if (component.style === "italic") node.style.fontStyle = "italic";
  if (component.decoration === "underline") node.style.textDecoration = "underline";
  if (component.decoration === "line-through") node.style.textDecoration = "line-through";
  const color = safeColor(component.color);
  if (color) node.style.color = color;
  const align = { start: "left", end: "right", center: "center" }[component.align];
  if (align) node.style.textAlign = align;
  if (component.wrap) {
    node.classList.add("wrap");
    const lineSpacing = length(component.lineSpacing);
    if (lineSpacing) node.style.lineHeight = `calc(1.4em + ${lineSpacing})`;
    const maxLines = Number(component.maxLines || 0);
    if (maxLines > 0) {
      node.classList.add("clamp");
      node.style.webkitLineClamp = String(maxLines);
    }
  }
  if (Array.isArray(component.contents) && component.contents.length) {
    for (const span of component.contents) {
      if (!span || span.type !== "span") continue;
      const s = el("span");
      s.textContent = span.text || "";
      const spanSize = length(span.size, TEXT_SIZE);
      if (spanSize) s.style.fontSize = spanSize;
      if (span.weight === "bold") s.style.fontWeight = "700";
      if (span.style === "italic") s.style.fontStyle = "italic";
      if (span.decoration === "underline") s.style.textDecoration = "underline";
      if (span.decoration === "line-through") s.style.textDecoration = "line-through";
      const spanColor = safeColor(span.color);
      if (spanColor) s.style.color = spanColor;
      node.append(s);
    }
  } else {
    node.textContent = component.text || "";
  }
  applyGravity(node, component, parent);
  return clickable(node, component.action, onAction);
}

function renderImage(component, parent, onAction) {
  const wrapper = el("div", "flex-image");
  const size = component.size === "full" ? "100%" : length(component.size, IMAGE_SIZE) || `${IMAGE_SIZE.md}px`;
  const [w, h] = String(component.aspectRatio || "1:1").split(":").map(Number);
  const frame = image(component.url, component.altText || "", "flex-image-frame");
  frame.style.width = size;
  frame.style.maxWidth = "100%";
  if (w > 0 && h > 0) frame.style.aspectRatio = `${w} / ${h}`;
  if (component.aspectMode === "cover") frame.classList.add("cover");
  const bg = safeColor(component.backgroundColor);
  if (bg) frame.style.backgroundColor = bg;
  const align = { start: "flex-start", end: "flex-end", center: "center" }[component.align || "center"];
  wrapper.style.justifyContent = align || "center";
  applyGravity(wrapper, component, parent);
  wrapper.append(frame);
  return clickable(wrapper, component.action, onAction, component.action ? actionName(component.action) : "");
}

function renderIcon(component) {
  const size = length(component.size, TEXT_SIZE) || `${TEXT_SIZE.md}px`;
  const frame = image(component.url, "", "flex-icon");
  const [w, h] = String(component.aspectRatio || "1:1").split(":").map(Number);
  frame.style.height = size;
  frame.style.width = w > 0 && h > 0 ? `calc(${size} * ${w / h})` : size;
  frame.setAttribute("aria-hidden", "true");
  return frame;
}

function renderButton(component, parent, onAction) {
  const action = component.action || {};
  const button = el("button", `flex-button flex-button-${component.style || "link"}`);
  button.type = "button";
  button.textContent = action.label || actionName(action) || "ボタン";
  if (component.height === "sm") button.classList.add("sm");
  const color = safeColor(component.color);
  if (color) {
    if (component.style === "primary" || component.style === "secondary") button.style.backgroundColor = color;
    else button.style.color = color;
  }
  applyGravity(button, component, parent);
  button.addEventListener("click", (event) => {
    event.stopPropagation();
    onAction(action, event.currentTarget);
  });
  return button;
}

function renderSeparator(component, parent) {
  const node = el("div", "flex-separator");
  node.setAttribute("role", "separator");
  const color = safeColor(component.color);
  if (color) node.style.borderColor = color;
  if (parent.layout === "vertical") node.classList.add("horizontal-line");
  else node.classList.add("vertical-line");
  return node;
}

function renderSpacer(component, parent) {
  const node = el("div", "flex-spacer");
  const size = length(component.size, SPACING) || `${SPACING.md}px`;
  if (parent.layout === "vertical") node.style.height = size;
  else node.style.width = size;
  return node;
}

function renderVideo(component, parent, onAction) {
  const wrapper = el("div", "flex-video");
  const frame = image(component.previewUrl, "動画", "flex-image-frame");
  const [w, h] = String(component.aspectRatio || "16:9").split(":").map(Number);
  if (w > 0 && h > 0) frame.style.aspectRatio = `${w} / ${h}`;
  frame.style.width = "100%";
  const play = el("span", "play-badge");
  play.textContent = "▶ 動画";
  wrapper.append(frame, play);
  return clickable(wrapper, { type: "uri", uri: component.url, label: "動画を開く" }, onAction);
}

function renderComponent(component, parent, index, onAction) {
  let node;
  switch (component && component.type) {
    case "box": node = renderBox(component, onAction); break;
    case "text": node = renderText(component, parent, onAction); break;
    case "image": node = renderImage(component, parent, onAction); break;
    case "icon": node = renderIcon(component); break;
    case "button": node = renderButton(component, parent, onAction); break;
    case "separator": node = renderSeparator(component, parent); break;
    case "spacer": node = renderSpacer(component, parent); break;
    case "filler": node = el("div", "flex-filler"); break;
    case "video": node = renderVideo(component, parent, onAction); break;
    default: return null;
  }
  if (component.type !== "spacer" && component.type !== "separator") applyFlex(node, component, parent);
  else node.style.flex = "0 0 auto";
  if (component.type === "filler") node.style.flex = `${component.flex ?? 1} 1 0px`;
  applyMargin(node, component, parent, index);
  applyPosition(node, component);
  return node;
}

function renderBox(box, onAction) {
  const layout = box.layout === "horizontal" || box.layout === "baseline" ? box.layout : "vertical";
  const node = el("div", `flex-box flex-${layout}`);
  const bg = safeColor(box.backgroundColor);
  if (bg) node.style.backgroundColor = bg;
  if (box.background && box.background.type === "linearGradient") {
    const start = safeColor(box.background.startColor) || "transparent";
    const end = safeColor(box.background.endColor) || "transparent";
    const angle = /^\d+(\.\d+)?deg$/.test(String(box.background.angle)) ? box.background.angle : "0deg";
    const center = safeColor(box.background.centerColor);
    node.style.backgroundImage = center
      ? `linear-gradient(${angle}, ${start}, ${center}, ${end})`
      : `linear-gradient(${angle}, ${start}, ${end})`;
  }
  const border = safeColor(box.borderColor);
  const borderWidth = length(box.borderWidth, BORDER_WIDTH);
  if (border || borderWidth) node.style.border = `${borderWidth || "1px"} solid ${border || "#000"}`;
  const radius = length(box.cornerRadius, CORNER);
  if (radius) {
    node.style.borderRadius = radius;
    node.style.overflow = "hidden";
  }
  for (const [key, property] of [["width", "width"], ["maxWidth", "maxWidth"], ["height", "height"], ["maxHeight", "maxHeight"]]) {
    const value = length(box[key]);
    if (value) node.style[property] = value;
  }
  const all = length(box.paddingAll, SPACING);
  if (all) node.style.padding = all;
  for (const [key, property] of [["paddingTop", "paddingTop"], ["paddingBottom", "paddingBottom"],
    ["paddingStart", "paddingInlineStart"], ["paddingEnd", "paddingInlineEnd"]]) {
    const value = length(box[key], SPACING);
    if (value) node.style[property] = value;
  }
  if (JUSTIFY[box.justifyContent]) node.style.justifyContent = JUSTIFY[box.justifyContent];
  if (ALIGN[box.alignItems] && layout !== "baseline") node.style.alignItems = ALIGN[box.alignItems];
  const parent = { layout, spacing: box.spacing };
  (Array.isArray(box.contents) ? box.contents : []).forEach((child, index) => {
    const rendered = renderComponent(child, parent, index, onAction);
    if (rendered) node.append(rendered);
  });
  return clickableContainer(node, box.action, onAction);
}

const BLOCKS = ["header", "hero", "body", "footer"];

function renderBubble(bubble, onAction) {
  const node = el("div", "flex-bubble");
  const width = BUBBLE_WIDTH[bubble.size] || BUBBLE_WIDTH.mega;
  node.style.width = `${width}px`;
  if (bubble.direction === "rtl") node.dir = "rtl";
  const styles = bubble.styles || {};
  BLOCKS.forEach((name) => {
    const content = bubble[name];
    if (!content) return;
    const block = el("div", `flex-block flex-${name}`);
    const style = styles[name] || {};
    const bg = safeColor(style.backgroundColor);
    if (bg) block.style.backgroundColor = bg;
    if (style.separator) {
      block.classList.add("with-separator");
      const separatorColor = safeColor(style.separatorColor);
      if (separatorColor) block.style.borderTopColor = separatorColor;
    }
    const rendered =
      content.type === "box"
        ? renderBox(content, onAction)
        : renderComponent(content, { layout: "vertical" }, 0, onAction);
    if (rendered) block.append(rendered);
    node.append(block);
  });
  return clickableContainer(node, bubble.action, onAction);
}

// A Flex container (bubble or carousel) as a DOM node; onAction(action, element) on taps.
export function renderFlex(contents, onAction) {
  if (contents && contents.type === "carousel") {
    const row = el("div", "flex-carousel");
    for (const bubble of contents.contents || []) row.append(renderBubble(bubble, onAction));
    return row;
  }
  return renderBubble(contents || {}, onAction);
}
