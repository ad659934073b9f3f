// The phone simulator: a virtual resident's LINE talk with the city's official account.
//
// Everything goes through the emulator's control API (/control/...): the residents of a
// channel, friendship (follow, block, unblock), what the resident sends (text, photo,
// location), taps on buttons and quick replies (perform) and on the rich menu (tap). The talk
// screen polls /control/channels/{c}/users/{u}/timeline every second with a cursor, so only
// new messages travel.

import { InAppBrowser } from "./simulator-browser.js";
import { Sheet } from "./simulator-dialog.js";
import { actionName } from "./simulator-flex.js";
import { renderMessage } from "./simulator-messages.js";

const POLL_MS = 1000;
const $ = (id) => document.getElementById(id);

const state = {
  channelId: "",
  userId: "",
  user: null,
  bot: null,
  cursor: "",
  generation: 0,
  timer: 0,
  inFlight: false,
  again: false,
  lastDay: "",
  lastSide: "",
  lastItem: null,
  quickDismissed: "",
  menu: null,
  menuOpen: false,
};

const timeFormat = new Intl.DateTimeFormat("ja-JP", { hour: "2-digit", minute: "2-digit" });
const dayFormat = new Intl.DateTimeFormat("ja-JP", { month: "long", day: "numeric", weekday: "short" });

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- control API ------------------------------------------------------------------------------

async function api(method, path, body, contentType) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    if (contentType) {
      init.headers["Content-Type"] = contentType;
      init.body = body;
    } else {
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
  }
  const response = await fetch(`/control${path}`, init);
  let data = null;
  try {
    data = await response.json();
  } catch {
    data = null;
  }
  if (!response.ok) {
    const error = new Error((data && data.error) || `エラーが発生しました（${response.status}）`);
    error.status = response.status;
    throw error;
  }
  return data;
}

const channelPath = (suffix = "") => `/channels/${encodeURIComponent(state.channelId)}${suffix}`;
const userPath = (suffix = "") => channelPath(`/users/${encodeURIComponent(state.userId)}${suffix}`);

function say(text, isError = false) {
  const box = $("sim-message");
  box.textContent = text;
  box.classList.toggle("error", isError);
}

// --- channels and residents ---------------------------------------------------------------------

async function loadChannels(preferred) {
  const channels = await api("GET", "/channels");
  const select = $("channel-select");
  select.replaceChildren(
    ...channels.map((c) => {
      const option = el("option", "", `${c.displayName}（${c.basicId}）`);
      option.value = c.channelId;
      return option;
    }),
  );
  const wanted = channels.find((c) => c.channelId === preferred) ? preferred : channels[0]?.channelId || "";
  select.value = wanted;
  state.channelId = wanted;
}

async function loadUsers(preferred) {
  const data = await api("GET", channelPath("/users?limit=200"));
  const select = $("user-select");
  const options = data.users.map((u) => {
    const option = el("option", "", u.display_name);
    option.value = u.user_id;
    return option;
  });
  const empty = el("option", "", data.users.length ? "（住民を選んでください）" : "（住民を作成してください）");
  empty.value = "";
  select.replaceChildren(empty, ...options);
  const wanted = data.users.find((u) => u.user_id === preferred) ? preferred : "";
  select.value = wanted;
  selectUser(wanted);
}

function remember() {
  const params = new URLSearchParams();
  if (state.channelId) params.set("channel", state.channelId);
  if (state.userId) params.set("user", state.userId);
  history.replaceState(null, "", `${location.pathname}?${params}`);
  try {
    localStorage.setItem("emulator.simulator", JSON.stringify({ channel: state.channelId, user: state.userId }));
  } catch {
    // storage unavailable (private mode): the URL still remembers
  }
}

function selectUser(userId) {
  state.generation += 1;
  clearTimeout(state.timer);
  state.userId = userId;
  state.user = null;
  state.cursor = "";
  state.lastDay = "";
  state.lastSide = "";
  state.lastItem = null;
  state.quickDismissed = "";
  state.menu = null;
  state.inFlight = false;
  state.again = false;
  const log = $("talk-log");
  log.replaceChildren(el("p", "talk-empty", userId ? "読み込んでいます…" : "住民を選ぶと、ここにトークが表示されます。"));
  renderMenu(null);
  renderQuickReplies();
  $("loading").hidden = true;
  updateFriendState();
  remember();
  if (userId) poll();
}

function updateFriendState() {
  const user = state.user;
  const friend = Boolean(user && user.is_friend);
  const blocked = Boolean(user && user.has_blocked);
  $("friend-state").textContent = !user
    ? "—"
    : friend
      ? "友だちです"
      : blocked
        ? "ブロックしています"
        : "友だちではありません";
  $("btn-follow").disabled = !user || friend || blocked;
  $("btn-block").disabled = !user || !friend;
  $("btn-unblock").disabled = !user || !blocked;
  $("user-id-line").textContent = user ? `ユーザーID：${user.user_id}` : "";
  const canSend = friend;
  for (const id of ["talk-text", "btn-send", "btn-photo", "btn-location"]) $(id).disabled = !canSend;
  $("talk-text").placeholder = canSend
    ? "メッセージを入力"
    : blocked
      ? "ブロック中は送信できません"
      : "友だち追加すると送信できます";
  $("talk-title").textContent = state.bot ? state.bot.displayName : "トーク";
}

async function friendship(action, label) {
  if (!state.userId) return;
  try {
    await api("POST", userPath(`/${action}`), {});
    say(`${label}しました。`);
  } catch (error) {
    say(error.message, true);
  }
  pollNow();
}

// --- the talk screen ------------------------------------------------------------------------------

function pollNow() {
  if (!state.userId) return;
  if (state.inFlight) {
    state.again = true;
    return;
  }
  poll();
}

async function poll() {
  clearTimeout(state.timer);
  if (!state.userId || state.inFlight) return;
  const generation = state.generation;
  state.inFlight = true;
  try {
    const query = state.cursor ? `?after=${encodeURIComponent(state.cursor)}` : "";
    const data = await api("GET", userPath(`/timeline${query}`));
    if (generation === state.generation) applyTimeline(data);
  } catch (error) {
    if (generation === state.generation) {
      if (error.status === 404) {
        say("この住民はもういません（エミュレーターがリセットされた可能性があります）。", true);
        state.inFlight = false;
        await loadUsers("");
        return;
      }
      say(error.message, true);
    }
  } finally {
    if (generation === state.generation) {
      state.inFlight = false;
      const delay = state.again ? 0 : POLL_MS;
      state.again = false;
      state.timer = setTimeout(poll, delay);
    }
  }
}

function applyTimeline(data) {
  state.bot = data.bot;
  state.user = data.user;
  const log = $("talk-log");
  if (data.restart) {
    log.replaceChildren();
    state.lastDay = "";
    state.lastSide = "";
    state.lastItem = null;
  }
  state.cursor = data.cursor;
  if (data.items.length) appendItems(data.items);
  if (!log.querySelector(".talk-row")) {
    log.replaceChildren(el("p", "talk-empty", "まだメッセージはありません。"));
  }
  updateFriendState();
  renderMenu(data.richMenu);
  renderQuickReplies();
  $("loading").hidden = !data.loading;
}

function dayKey(at) {
  const d = new Date(at * 1000);
  return `${d.getFullYear()}-${d.getMonth()}-${d.getDate()}`;
}

function appendItems(items) {
  const log = $("talk-log");
  log.querySelector(".talk-empty")?.remove();
  const nearBottom = log.scrollHeight - log.scrollTop - log.clientHeight < 120;
  for (const item of items) {
    const day = dayKey(item.at);
    if (day !== state.lastDay) {
      const separator = el("p", "talk-day", dayFormat.format(new Date(item.at * 1000)));
      log.append(separator);
      state.lastDay = day;
      state.lastSide = "";
    }
    log.append(renderRow(item));
    state.lastSide = item.side;
    state.lastItem = item;
  }
  if (nearBottom || items.some((item) => item.side === "user")) scrollToEnd();
}

function scrollToEnd() {
  const log = $("talk-log");
  log.scrollTop = log.scrollHeight;
  // Images change the height when they load (or fail): keep the end in view.
  requestAnimationFrame(() => {
    log.scrollTop = log.scrollHeight;
  });
}

function renderRow(item) {
  const message = item.message || {};
  const row = el("div", `talk-row talk-${item.side}`);
  row.dataset.messageId = item.id;
  row.dataset.type = message.type || "";
  const time = el("time", "talk-time", timeFormat.format(new Date(item.at * 1000)));
  time.dateTime = new Date(item.at * 1000).toISOString();
  const meta = el("div", "talk-meta");
  if (item.side === "user") meta.append(el("span", "talk-read", "既読"));
  meta.append(time);
  const context = {
    onAction: (action, opener) => act(action, opener),
    onOpen: (url, opener) => browser.open(url, opener),
    user: state.user,
    contentUrl: item.contentUrl || "",
  };
  const content = el("div", "talk-content");
  const bubble = renderMessage(message, context);
  content.append(bubble, meta);
  if (item.side === "bot") {
    const sender = message.sender || {};
    const who = sender.name || (state.bot ? state.bot.displayName : "公式アカウント");
    const first = state.lastSide !== "bot" || Boolean(sender.name);
    const avatar = el("img", "talk-avatar");
    avatar.alt = "";
    avatar.src = "/static/bot.svg";
    if (!first) avatar.classList.add("invisible");
    const body = el("div", "talk-body");
    const name = el("p", first ? "talk-name" : "visually-hidden", who);
    body.append(name, content);
    row.append(avatar, body);
  } else {
    const label = el("p", "visually-hidden", "あなた");
    row.append(label, content);
  }
  return row;
}

function renderQuickReplies() {
  const box = $("quick-replies");
  const item = state.lastItem;
  const items = item && item.side === "bot" && item.message.quickReply ? item.message.quickReply.items || [] : [];
  if (!items.length || state.quickDismissed === item.id || !(state.user && state.user.is_friend)) {
    box.hidden = true;
    box.replaceChildren();
    return;
  }
  if (box.dataset.for === item.id && !box.hidden) return;
  box.dataset.for = item.id;
  box.replaceChildren(
    ...items.map((entry) => {
      const action = entry.action || {};
      const chip = el("button", "quick-reply", action.label || actionName(action) || "選択");
      chip.type = "button";
      chip.addEventListener("click", () => {
        state.quickDismissed = item.id;
        box.hidden = true;
        act(action, $("talk-text"));
      });
      return chip;
    }),
  );
  box.hidden = false;
}

// --- actions ------------------------------------------------------------------------------------------

const pickers = { date: ["date", "日付"], time: ["time", "時刻"], datetime: ["datetime-local", "日時"] };

function pickDateTime(action, opener) {
  const [type, word] = pickers[action.mode] || pickers.datetime;
  const input = $("picker-input");
  input.type = type;
  for (const name of ["min", "max"]) {
    if (action[name]) input.setAttribute(name, String(action[name]).replace("t", "T"));
    else input.removeAttribute(name);
  }
  input.value = action.initial ? String(action.initial).replace("t", "T") : "";
  $("picker-title").textContent = action.label || `${word}を選ぶ`;
  $("picker-label").textContent = word;
  return new Promise((resolve) => {
    const form = $("picker-form");
    const submit = (event) => {
      event.preventDefault();
      if (!input.reportValidity()) return;
      form.removeEventListener("submit", submit);
      pickerSheet.close();
      resolve(input.value);
    };
    form.addEventListener("submit", submit);
    pickerSheet.open(opener, () => {
      form.removeEventListener("submit", submit);
      resolve(null);
    });
  });
}

function pick(kind, opener) {
  if (kind === "camera") $("camera-input").click();
  else if (kind === "cameraRoll") $("photo-input").click();
  else if (kind === "location") locationSheet.open(opener || $("btn-location"));
}

async function copy(text) {
  try {
    await navigator.clipboard.writeText(text);
    say("クリップボードにコピーしました。");
  } catch {
    say(`コピーできませんでした：${text}`, true);
  }
}

function handleResult(result, opener) {
  if (!result) return;
  if (result.open) browser.open(result.open, opener);
  if (result.pick) pick(result.pick, opener);
  if (typeof result.clipboard === "string") copy(result.clipboard);
  if (result.inputOption === "openRichMenu") setMenuOpen(true);
  if (result.inputOption === "closeRichMenu") setMenuOpen(false);
  if (result.inputOption === "openKeyboard" || result.inputOption === "openVoice" || result.fillInText) {
    if (result.fillInText) $("talk-text").value = result.fillInText;
    $("talk-text").focus();
  }
}

// A tap on a control whose action is `action`; `area` is the rich-menu area index, if any.
async function act(action, opener, area) {
  if (!state.userId || !action) return;
  // These need the tap's user activation (file choosers, the clipboard): no round trip first.
  if (["camera", "cameraRoll", "location"].includes(action.type)) {
    pick(action.type, opener);
    return;
  }
  if (action.type === "clipboard") {
    copy(String(action.clipboardText || ""));
    return;
  }
  let value;
  if (action.type === "datetimepicker") {
    value = await pickDateTime(action, opener);
    if (value === null) return;
  }
  try {
    const result =
      area === undefined
        ? await api("POST", userPath("/perform"), { action, value })
        : await api("POST", userPath("/tap"), value === undefined ? { area } : { area, value });
    handleResult(result, opener);
  } catch (error) {
    say(error.message, true);
  }
  pollNow();
}

// --- the rich menu -------------------------------------------------------------------------------------

function setMenuOpen(open) {
  state.menuOpen = open;
  $("rich-menu-body").hidden = !open;
  $("rich-menu-bar").setAttribute("aria-expanded", String(open));
}

function renderMenu(menu) {
  const root = $("rich-menu");
  if (!menu || !menu.imageUrl) {
    root.hidden = true;
    state.menu = null;
    return;
  }
  if (state.menu && state.menu.richMenuId === menu.richMenuId && !root.hidden) return;
  const open = state.menu ? state.menuOpen : menu.selected;
  state.menu = menu;
  $("rich-menu-bar-text").textContent = menu.chatBarText || "メニュー";
  const body = $("rich-menu-body");
  body.dataset.richMenuId = menu.richMenuId;
  body.style.aspectRatio = `${menu.size.width} / ${menu.size.height}`;
  body.setAttribute("aria-label", `リッチメニュー：${menu.chatBarText || menu.name || ""}`);
  const img = $("rich-menu-image");
  img.src = menu.imageUrl;
  const areas = $("rich-menu-areas");
  areas.replaceChildren(
    ...menu.areas.map((area, index) => {
      const bounds = area.bounds;
      const button = el("button", "rich-menu-area");
      button.type = "button";
      button.setAttribute("aria-label", actionName(area.action) || `エリア ${index + 1}`);
      button.dataset.area = String(index);
      button.style.left = `${(bounds.x / menu.size.width) * 100}%`;
      button.style.top = `${(bounds.y / menu.size.height) * 100}%`;
      button.style.width = `${(bounds.width / menu.size.width) * 100}%`;
      button.style.height = `${(bounds.height / menu.size.height) * 100}%`;
      button.addEventListener("click", () => act(area.action, button, index));
      return button;
    }),
  );
  root.hidden = false;
  setMenuOpen(Boolean(open));
}

// --- sending ----------------------------------------------------------------------------------------------

async function sendMessage(body, contentType) {
  try {
    await api("POST", userPath("/message"), body, contentType);
  } catch (error) {
    say(error.message, true);
    return false;
  }
  pollNow();
  return true;
}

async function sendPhoto(input) {
  const file = input.files && input.files[0];
  input.value = "";
  if (!file) return;
  if (!file.type.startsWith("image/")) {
    say("画像ファイルを選んでください。", true);
    return;
  }
  if (await sendMessage(file, file.type)) say("写真を送信しました。");
}

function setupInput() {
  const text = $("talk-text");
  $("talk-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const value = text.value;
    if (!value.trim() || !state.userId) return;
    text.value = "";
    resize();
    if (!(await sendMessage({ type: "text", text: value }))) text.value = value;
  });
  const resize = () => {
    text.style.height = "auto";
    text.style.height = `${Math.min(text.scrollHeight, 96)}px`;
  };
  text.addEventListener("input", resize);
  text.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      $("talk-form").requestSubmit();
    }
  });
  $("btn-photo").addEventListener("click", () => $("photo-input").click());
  $("photo-input").addEventListener("change", (event) => sendPhoto(event.target));
  $("camera-input").addEventListener("change", (event) => sendPhoto(event.target));
  $("btn-location").addEventListener("click", (event) => locationSheet.open(event.currentTarget));
  $("location-preset").addEventListener("change", (event) => {
    const option = event.target.selectedOptions[0];
    if (!option || !option.value) return;
    const [lat, lng] = option.value.split(",");
    $("location-lat").value = lat;
    $("location-lng").value = lng;
    $("location-title-input").value = option.dataset.title || "";
    $("location-address").value = option.dataset.address || "";
  });
  $("location-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = {
      type: "location",
      latitude: Number($("location-lat").value),
      longitude: Number($("location-lng").value),
    };
    const title = $("location-title-input").value.trim();
    const address = $("location-address").value.trim();
    if (title) body.title = title;
    if (address) body.address = address;
    locationSheet.close();
    if (await sendMessage(body)) say("位置情報を送信しました。");
  });
  $("rich-menu-bar").addEventListener("click", () => setMenuOpen(!state.menuOpen));
}

function setupSide() {
  $("channel-select").addEventListener("change", async (event) => {
    state.channelId = event.target.value;
    selectUser("");
    await loadUsers("");
  });
  $("user-select").addEventListener("change", (event) => selectUser(event.target.value));
  $("new-user-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = $("new-user-name");
    const name = input.value.trim();
    if (!name) return;
    try {
      const user = await api("POST", channelPath("/users"), { displayName: name });
      input.value = "";
      await loadUsers(user.user_id);
      say(`住民「${user.display_name}」を作成しました。`);
    } catch (error) {
      say(error.message, true);
    }
  });
  $("btn-follow").addEventListener("click", () => friendship("follow", "友だち追加"));
  $("btn-block").addEventListener("click", () => friendship("block", "ブロック"));
  $("btn-unblock").addEventListener("click", () => friendship("unblock", "ブロック解除"));
}

const browser = new InAppBrowser($("browser"), { currentUser: () => state.userId, onClosed: () => pollNow() });
const locationSheet = new Sheet($("location-sheet"));
const pickerSheet = new Sheet($("picker-sheet"));

async function start() {
  setupSide();
  setupInput();
  updateFriendState();
  const params = new URLSearchParams(location.search);
  let saved = {};
  try {
    saved = JSON.parse(localStorage.getItem("emulator.simulator") || "{}") || {};
  } catch {
    saved = {};
  }
  try {
    await loadChannels(params.get("channel") || saved.channel || document.body.dataset.defaultChannel);
    await loadUsers(params.get("user") || saved.user || "");
  } catch (error) {
    say(error.message, true);
  }
}

start();
