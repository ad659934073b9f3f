// Rendering of one talk message (either side) into the talk screen.
//
// renderMessage(message, context) returns the bubble's DOM node. `context` has
// onAction(action, element) for buttons, onOpen(url) for links and images, the
// current user (for mentions) and contentUrl for images the user sent.

import { actionName, image, renderFlex } from "./simulator-flex.js";

const URL_PATTERN = /https?:\/\/[^\s<>"'「」『』、。，．（）()\[\]{}]+/g;

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// Text with line breaks kept (CSS pre-wrap) and URLs as links that open in the in-app browser.
export function linkify(text, onOpen) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of String(text).matchAll(URL_PATTERN)) {
    if (match.index > last) fragment.append(text.slice(last, match.index));
    const link = el("a", "talk-link", match[0]);
    link.href = match[0];
    link.rel = "noopener noreferrer";
    link.addEventListener("click", (event) => {
      event.preventDefault();
      onOpen(match[0]);
    });
    fragment.append(link);
    last = match.index + match[0].length;
  }
  if (last < text.length) fragment.append(text.slice(last));
  return fragment;
}

const SVG_NS = "http://www.w3.org/2000/svg";

// A small decorative drawing (no emoji font is needed on the machine).
function icon(paths, className, size = 24) {
  const svg = document.createElementNS(SVG_NS, "svg");
  svg.setAttribute("viewBox", "0 0 24 24");
  svg.setAttribute("width", String(size));
  svg.setAttribute("height", String(size));
  svg.setAttribute("aria-hidden", "true");
  svg.setAttribute("focusable", "false");
  svg.setAttribute("class", className);
  for (const [d, fill, stroke] of paths) {
    const path = document.createElementNS(SVG_NS, "path");
    path.setAttribute("d", d);
    path.setAttribute("fill", fill || "none");
    if (stroke) {
      path.setAttribute("stroke", stroke);
      path.setAttribute("stroke-width", "1.6");
      path.setAttribute("stroke-linecap", "round");
    }
    svg.append(path);
  }
  return svg;
}

const SMILE = [
  ["M12 2a10 10 0 1 1 0 20 10 10 0 0 1 0-20z", "#ffd45c", "#8a6d1c"],
  ["M8.5 8.3a1.3 1.3 0 1 1 0 2.6 1.3 1.3 0 0 1 0-2.6zM15.5 8.3a1.3 1.3 0 1 1 0 2.6 1.3 1.3 0 0 1 0-2.6z", "#3b2f0b"],
  ["M8 14q4 3.5 8 0", null, "#3b2f0b"],
];
const PIN = [["M12 2a7 7 0 0 0-7 7c0 5.2 7 13 7 13s7-7.8 7-13a7 7 0 0 0-7-7zm0 9.5A2.5 2.5 0 1 1 12 6.5a2.5 2.5 0 0 1 0 5z", "#d93025"]];

function textBubble(text, context) {
  const bubble = el("div", "bubble bubble-text");
  bubble.append(linkify(text, context.onOpen));
  return bubble;
}

function textV2(message, context) {
  const substitution = message.substitution || {};
  const parts = String(message.text || "").split(/(\{[A-Za-z0-9_]{1,20}\})/);
  const text = parts
    .map((part) => {
      const key = /^\{(.+)\}$/.exec(part);
      const value = key && substitution[key[1]];
      if (!value) return part;
      if (value.type === "mention") {
        const mentionee = value.mentionee || {};
        if (mentionee.type === "all") return "@All";
        if (context.user && mentionee.userId === context.user.user_id) return `@${context.user.display_name}`;
        return "@ユーザー";
      }
      if (value.type === "emoji") return "（絵文字）";
      return part;
    })
    .join("");
  return textBubble(text, context);
}

function sticker(message) {
  const box = el("div", "bubble-sticker");
  box.setAttribute("role", "img");
  box.setAttribute("aria-label", `スタンプ（パッケージ ${message.packageId}、スタンプ ${message.stickerId}）`);
  const face = icon(SMILE, "sticker-face", 56);
  const ids = el("span", "sticker-ids", `${message.packageId} / ${message.stickerId}`);
  ids.setAttribute("aria-hidden", "true");
  box.append(face, ids);
  return box;
}

function imageBubble(message, context) {
  const button = el("button", "bubble-image");
  button.type = "button";
  const url = context.contentUrl || message.previewImageUrl || message.originalContentUrl;
  const alt = context.contentUrl ? "送信した写真" : "画像";
  button.setAttribute("aria-label", `${alt}を開く`);
  button.append(image(url, alt, "talk-image"));
  button.addEventListener("click", () => context.onOpen(context.contentUrl || message.originalContentUrl || url));
  return button;
}

function videoBubble(message, context) {
  const button = el("button", "bubble-image bubble-video");
  button.type = "button";
  button.setAttribute("aria-label", "動画を開く");
  button.append(image(message.previewImageUrl, "動画のプレビュー", "talk-image"), el("span", "play-badge", "▶ 動画"));
  button.addEventListener("click", () => context.onOpen(message.originalContentUrl));
  return button;
}

function audioBubble(message, context) {
  const button = el("button", "bubble bubble-text bubble-audio");
  button.type = "button";
  const seconds = Math.round(Number(message.duration || 0) / 1000);
  button.textContent = `音声メッセージ（${seconds} 秒）`;
  button.addEventListener("click", () => context.onOpen(message.originalContentUrl));
  return button;
}

function locationBubble(message) {
  const card = el("div", "bubble-location");
  const pin = icon(PIN, "location-pin", 28);
  const body = el("div", "location-body");
  body.append(el("p", "location-title", message.title || "位置情報"));
  if (message.address) body.append(el("p", "location-address", message.address));
  body.append(el("p", "location-coords", `緯度 ${message.latitude}、経度 ${message.longitude}`));
  card.append(pin, body);
  return card;
}

function actionButton(action, context, className = "template-button") {
  const button = el("button", className, action.label || actionName(action) || "ボタン");
  button.type = "button";
  button.addEventListener("click", () => context.onAction(action, button));
  return button;
}

function thumbnail(url, ratio, size, background, defaultAction, context) {
  const frame = image(url, "", `template-thumb ${size === "contain" ? "contain" : "cover"}`);
  frame.style.aspectRatio = ratio === "square" ? "1 / 1" : "1.51 / 1";
  if (background) frame.style.backgroundColor = background;
  if (!defaultAction) return frame;
  const button = el("button", "template-thumb-button");
  button.type = "button";
  button.setAttribute("aria-label", actionName(defaultAction) || "画像を開く");
  button.append(frame);
  button.addEventListener("click", () => context.onAction(defaultAction, button));
  return button;
}

function column(data, template, context) {
  const card = el("div", "template-card");
  if (data.thumbnailImageUrl) {
    card.append(
      thumbnail(
        data.thumbnailImageUrl,
        template.imageAspectRatio,
        template.imageSize,
        data.imageBackgroundColor || template.imageBackgroundColor,
        data.defaultAction,
        context,
      ),
    );
  }
  const body = el("div", "template-body");
  if (data.title) body.append(el("p", "template-title", data.title));
  if (data.text) body.append(el("p", "template-text", data.text));
  card.append(body);
  const actions = el("div", "template-actions");
  for (const action of data.actions || []) actions.append(actionButton(action, context));
  card.append(actions);
  return card;
}

function template(message, context) {
  const t = message.template || {};
  const wrapper = el("div", "bubble-template");
  wrapper.setAttribute("role", "group");
  wrapper.setAttribute("aria-label", message.altText || "テンプレートメッセージ");
  if (t.type === "buttons") {
    wrapper.append(column(t, t, context));
  } else if (t.type === "confirm") {
    const card = el("div", "template-card template-confirm");
    card.append(el("p", "template-text confirm-text", t.text || ""));
    const actions = el("div", "template-actions confirm-actions");
    for (const action of t.actions || []) actions.append(actionButton(action, context));
    card.append(actions);
    wrapper.append(card);
  } else if (t.type === "carousel") {
    const row = el("div", "template-carousel");
    for (const data of t.columns || []) row.append(column(data, t, context));
    wrapper.append(row);
  } else if (t.type === "image_carousel") {
    const row = el("div", "template-carousel");
    for (const data of t.columns || []) {
      const action = data.action || {};
      const button = el("button", "image-column");
      button.type = "button";
      button.append(image(data.imageUrl, "", "image-column-img"));
      if (action.label) button.append(el("span", "image-column-label", action.label));
      button.setAttribute("aria-label", actionName(action) || "画像");
      button.addEventListener("click", () => context.onAction(action, button));
      row.append(button);
    }
    wrapper.append(row);
  } else {
    wrapper.append(textBubble(message.altText || "テンプレートメッセージ", context));
  }
  return wrapper;
}

// Imagemap actions as the action objects the simulator performs.
function imagemapAction(action) {
  if (action.type === "uri") return { type: "uri", uri: action.linkUri, label: action.label || action.linkUri };
  if (action.type === "message") return { type: "message", text: action.text, label: action.label || action.text };
  if (action.type === "clipboard") {
    return { type: "clipboard", clipboardText: action.clipboardText, label: action.label || "コピー" };
  }
  return action;
}

function imagemap(message, context) {
  const base = message.baseSize || { width: 1040, height: 1040 };
  const wrapper = el("div", "bubble-imagemap");
  wrapper.setAttribute("role", "group");
  wrapper.setAttribute("aria-label", message.altText || "イメージマップ");
  wrapper.style.aspectRatio = `${base.width} / ${base.height}`;
  wrapper.append(image(`${message.baseUrl}/1040`, message.altText || "", "imagemap-img"));
  for (const action of message.actions || []) {
    const area = action.area || {};
    const performed = imagemapAction(action);
    const button = el("button", "imagemap-area");
    button.type = "button";
    button.setAttribute("aria-label", actionName(performed) || "エリア");
    button.style.left = `${(area.x / base.width) * 100}%`;
    button.style.top = `${(area.y / base.height) * 100}%`;
    button.style.width = `${(area.width / base.width) * 100}%`;
    button.style.height = `${(area.height / base.height) * 100}%`;
    button.addEventListener("click", () => context.onAction(performed, button));
    wrapper.append(button);
  }
  return wrapper;
}

function flex(message, context) {
  const wrapper = el("div", "bubble-flex");
  wrapper.setAttribute("role", "group");
  wrapper.setAttribute("aria-label", message.altText || "Flex メッセージ");
  wrapper.append(renderFlex(message.contents, context.onAction));
  return wrapper;
}

export function renderMessage(message, context) {
  switch (message.type) {
    case "text": return textBubble(String(message.text || ""), context);
    case "textV2": return textV2(message, context);
    case "sticker": return sticker(message);
    case "image": return imageBubble(message, context);
    case "video": return videoBubble(message, context);
    case "audio": return audioBubble(message, context);
    case "location": return locationBubble(message);
    case "template": return template(message, context);
    case "imagemap": return imagemap(message, context);
    case "flex": return flex(message, context);
    default: return textBubble(`（${message.type || "不明"} メッセージ）`, context);
  }
}

// A short description for screen readers and the quick reply's "last message".
export function describe(message) {
  switch (message.type) {
    case "text": return String(message.text || "");
    case "image": return "画像";
    case "sticker": return "スタンプ";
    case "location": return `位置情報 ${message.title || ""}`;
    default: return message.altText || message.type || "";
  }
}
