// The sandbox page: a Slack-like client for the emulated workspace, updated over SSE.

import { collectValues, renderBlocks } from "./blockkit.js";
import { mrkdwn, textObject, plain } from "./mrkdwn.js";
import { locale, setLocale, t } from "./i18n.js";

const APP_HOME = "app:home";
const APP_MESSAGES = "app:messages";

const state = {
  config: null,
  user: null,
  view: null, // a channel id, APP_HOME or APP_MESSAGES
  pane: null, // null, {kind: "thread", ts} or {kind: "pins"}
  snap: null,
  drafts: {}, // composer key -> text typed but not sent (renders must not lose it)
  modalKey: null,
  modalInputs: null,
  homeRequested: new Set(),
};

const $ = (id) => document.getElementById(id);

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- talking to the sandbox ----------------------------------------------------------------

async function post(verb, body) {
  const response = await fetch(`/sandbox/${verb}`, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ user: state.user, ...body }),
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = { ok: false, error: `HTTP ${response.status}` };
  }
  if (data.error === "dispatch_failed") toast(t("dispatchFailed", { status: data.status }), true);
  else if (data.error === "unknown_command") {
    toast(t("unknownCommand", { command: data.command, list: state.config.commands.join(", ") }), true);
  } else if (!response.ok) toast(t("requestFailed", { error: data.error || response.status }), true);
  scheduleRefresh();
  return data;
}

let refreshSeq = 0;
let refreshTimer = null;

function scheduleRefresh() {
  if (refreshTimer) return;
  refreshTimer = setTimeout(() => {
    refreshTimer = null;
    refresh();
  }, 40);
}

function channelParam() {
  if (state.view === APP_MESSAGES) return "app"; // the person's DM with the app
  if (state.view === APP_HOME) return "";
  return state.view || "";
}

async function refresh() {
  const seq = ++refreshSeq;
  const params = new URLSearchParams({ user: state.user, channel: channelParam() });
  if (state.pane && state.pane.kind === "thread") params.set("thread", state.pane.ts);
  const response = await fetch(`/sandbox/state?${params}`);
  if (!response.ok || seq !== refreshSeq) return;
  const snap = await response.json();
  if (seq !== refreshSeq) return;
  state.snap = snap;
  render();
}

function connect() {
  const source = new EventSource("/sandbox/events");
  source.addEventListener("change", () => scheduleRefresh());
  source.addEventListener("open", () => {
    document.body.classList.remove("offline");
    scheduleRefresh();
  });
  source.addEventListener("error", () => document.body.classList.add("offline"));
}

// --- rendering helpers ---------------------------------------------------------------------

function ctx(extra = {}) {
  const snap = state.snap;
  const channels = {};
  for (const channel of snap.channels) channels[channel.id] = channel;
  return {
    users: snap.users,
    channels,
    me: state.user,
    tz: state.config.timezone,
    locale: locale(),
    openChannel: (id) => openView(id),
    confirm: showConfirm,
    inputs: null,
    ...extra,
  };
}

function timeText(ts, withDate = false) {
  const date = new Date(Number(ts) * 1000);
  const options = withDate
    ? { dateStyle: "medium", timeStyle: "short" }
    : { hour: "2-digit", minute: "2-digit" };
  return new Intl.DateTimeFormat(locale(), { timeZone: state.config.timezone, ...options }).format(date);
}

function userName(id) {
  const user = state.snap.users[id];
  return user ? user.real_name || user.name : id;
}

function avatar(id, isBot) {
  const name = isBot ? "ep" : userName(id);
  let hash = 0;
  for (const ch of id || "x") hash = (hash * 31 + ch.charCodeAt(0)) % 8;
  const node = el("div", `avatar c${isBot ? "bot" : hash}`, isBot ? "ep" : [...name][0] || "?");
  node.setAttribute("aria-hidden", "true");
  return node;
}

function channelLabel(channel) {
  if (channel.kind === "im") return userName(channel.im_user || channel.name);
  return channel.name;
}

// The sandbox keeps read marks per person: what arrived since they last looked is unread.
function isUnread(channel) {
  return channel.unread > 0 && channel.id !== state.snap.channel?.id;
}

// --- sidebar --------------------------------------------------------------------------------

function sidebarItem(label, key, { unread = false, count = 0, prefix = "#", extraClass = "", title = "" } = {}) {
  const item = el("button", "side-item" + (state.view === key ? " active" : "") + (unread ? " unread" : "") + extraClass);
  item.type = "button";
  item.dataset.view = key;
  if (title) item.title = title;
  item.append(el("span", "side-prefix", prefix), el("span", "side-label", label));
  if (unread && count) {
    const badge = el("span", "side-badge", String(count));
    badge.setAttribute("aria-label", t("unreadCount", { n: count }));
    item.append(badge);
  }
  item.addEventListener("click", () => openView(key));
  return item;
}

function renderSidebar() {
  const nav = $("sidebar");
  nav.replaceChildren();
  nav.append(el("div", "workspace", t("brand")));
  const snap = state.snap;
  const channels = snap.channels.filter((c) => c.kind === "channel");
  const dms = snap.channels.filter((c) => c.kind === "mpim" || (c.kind === "im" && c.id !== snap.app_dm));
  nav.append(el("div", "side-heading", t("channels")));
  for (const channel of channels) {
    const item = sidebarItem(channel.name, channel.id, {
      unread: isUnread(channel),
      prefix: channel.is_private ? "🔒" : "#",
      extraClass: channel.is_member ? "" : " not-member",
    });
    item.dataset.channelName = channel.name;
    nav.append(item);
  }
  if (dms.length) {
    nav.append(el("div", "side-heading", t("directMessages")));
    for (const channel of dms) nav.append(sidebarItem(channelLabel(channel), channel.id, { unread: isUnread(channel), count: channel.unread, prefix: "●" }));
  }
  nav.append(el("div", "side-heading", t("apps")));
  const appDm = snap.channels.find((c) => c.id === snap.app_dm);
  const appItem = sidebarItem("epbot", state.view === APP_HOME ? APP_HOME : APP_MESSAGES, {
    unread: appDm ? isUnread(appDm) : false,
    count: appDm ? appDm.unread : 0,
    prefix: "🤖",
  });
  appItem.classList.toggle("active", state.view === APP_HOME || state.view === APP_MESSAGES);
  appItem.dataset.channelName = "epbot";
  nav.append(appItem);
}

// --- messages --------------------------------------------------------------------------------

function messageNode(message, channelId, { inThread = false } = {}) {
  const node = el("div", "msg" + (message.ephemeral ? " ephemeral" : "") + (message.pinned ? " pinned" : ""));
  node.dataset.ts = message.ts;
  if (message.pinned) node.append(el("div", "pin-note", "📌 " + t("pinnedBy", { name: "epbot" })));
  const row = el("div", "msg-row");
  row.append(avatar(message.user, message.is_bot));
  const body = el("div", "msg-body");
  const head = el("div", "msg-head");
  head.append(el("span", "author", message.is_bot ? "epbot" : userName(message.user)));
  if (message.is_bot) head.append(el("span", "app-badge", t("app")));
  const time = el("time", "msg-time", timeText(message.ts));
  time.title = timeText(message.ts, true);
  head.append(time);
  if (message.edited) head.append(el("span", "edited", t("edited")));
  body.append(head);
  const context = ctx({
    onAction: (blockIndex, element, chosen) => post("action", {
      channel: channelId, message_ts: message.ts, block_index: blockIndex, action_id: element.action_id, chosen,
    }),
  });
  if (message.blocks && message.blocks.length) body.append(renderBlocks(message.blocks, context));
  else body.append(mrkdwn(message.text, context));
  if (message.reactions && message.reactions.length) {
    const reactions = el("div", "reactions");
    for (const r of message.reactions) reactions.append(el("span", "reaction", `${mrkdwnEmoji(r.name)} ${r.count}`));
    body.append(reactions);
  }
  if (message.ephemeral) body.append(el("div", "ephemeral-note", "👁 " + t("onlyYou")));
  if (!inThread && message.reply_count) {
    const link = el("button", "thread-link", message.reply_count === 1 ? t("oneReply") : t("replies", { n: message.reply_count }));
    link.type = "button";
    link.addEventListener("click", () => openPane({ kind: "thread", ts: message.ts }));
    body.append(link);
  }
  row.append(body);
  if (!inThread && !message.ephemeral) {
    const tools = el("div", "msg-tools");
    const reply = el("button", "tool", "💬");
    reply.type = "button";
    reply.title = t("replyInThread");
    reply.setAttribute("aria-label", t("replyInThread"));
    reply.addEventListener("click", () => openPane({ kind: "thread", ts: message.ts }));
    tools.append(reply);
    row.append(tools);
  }
  node.append(row);
  return node;
}

function mrkdwnEmoji(name) {
  return mrkdwn(`:${name}:`, ctx()).textContent;
}

function composer(channel, { threadTs = null } = {}) {
  const form = el("form", "composer");
  form.dataset.thread = threadTs ? "1" : "";
  const area = el("textarea", "composer-input");
  area.rows = 1;
  const where = channel.kind === "im" ? "epbot" : "#" + channel.name;
  area.placeholder = threadTs ? t("replyPlaceholder") : t("messagePlaceholder", { where });
  area.setAttribute("aria-label", area.placeholder);
  const key = `${state.user}:${channel.id}:${threadTs || ""}`;
  area.dataset.draftKey = key;
  area.value = state.drafts[key] || "";
  const hint = el("div", "composer-hint");
  hint.hidden = true;
  const send = el("button", "send", t("send"));
  send.type = "submit";
  const submit = async () => {
    const text = area.value.trim();
    if (!text) return;
    area.value = "";
    delete state.drafts[key];
    hint.hidden = true;
    await post("command", { channel: channel.id, text, thread_ts: threadTs });
  };
  area.addEventListener("keydown", (event) => {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      submit();
    }
  });
  area.addEventListener("input", () => {
    state.drafts[key] = area.value;
    const typing = area.value.startsWith("/");
    hint.hidden = !typing;
    if (typing) {
      hint.textContent = `${t("commandHint")}: ${state.config.commands.map((c) => `${c} [db-crash | drill <type> | list | status | update <text> | resolve | help]`).join("  ")}`;
    }
  });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit();
  });
  const row = el("div", "composer-row");
  row.append(area, send);
  form.append(hint, row);
  if (!channel.is_member && channel.kind === "channel") form.append(el("div", "composer-note", t("notMember")));
  return form;
}

function channelHeader(channel) {
  const header = el("div", "channel-header");
  const title = el("div", "channel-title");
  title.append(el("h1", "channel-name", (channel.kind === "channel" ? (channel.is_private ? "🔒 " : "# ") : "") + channelLabel(channel)));
  if (channel.kind === "channel") {
    const pins = el("button", "pins-button", `📌 ${channel.pins.length}`);
    pins.type = "button";
    pins.title = t("pinnedItems");
    pins.setAttribute("aria-label", t("pinnedItems"));
    pins.addEventListener("click", () => openPane({ kind: "pins" }));
    title.append(pins, el("span", "member-count", t("members", { n: channel.members })));
  }
  header.append(title);
  if (channel.topic) header.append(el("div", "channel-topic", channel.topic));
  return header;
}

// The first-run panel in #general: what to try, and what the top bar's controls do.
function welcomePanel() {
  const panel = el("section", "welcome");
  panel.id = "welcome";
  panel.setAttribute("aria-label", t("welcomeTitle"));
  const close = el("button", "close welcome-close", "×");
  close.type = "button";
  close.title = t("welcomeHide");
  close.setAttribute("aria-label", t("welcomeHide"));
  close.addEventListener("click", () => {
    localStorage.setItem("epbot-sandbox-welcome", "hidden");
    render();
  });
  panel.append(close, el("h2", "welcome-title", t("welcomeTitle")), el("p", "", t("welcomeIntro")));
  const list = el("ol", "welcome-steps");
  const tryIt = el("li");
  tryIt.append(el("span", "", t("welcomeTry1")), el("code", "", "/incident drill db-crash"), el("span", "", t("welcomeTry2")));
  const fill = el("button", "bk-btn bk-primary welcome-try", t("welcomeTryButton"));
  fill.type = "button";
  fill.dataset.role = "try";
  fill.addEventListener("click", () => {
    const area = document.querySelector(".main .composer-input");
    if (!area) return;
    area.value = "/incident drill db-crash";
    state.drafts[area.dataset.draftKey] = area.value;
    area.focus();
  });
  tryIt.append(fill);
  list.append(
    tryIt,
    el("li", "", t("welcomeActingAs")),
    el("li", "", t("welcomeClock")),
    el("li", "", t("welcomeMore")),
  );
  panel.append(list);
  return panel;
}

function renderMessages(list, channel) {
  const scroller = el("div", "messages");
  scroller.id = "messages";
  const welcome = channel.id === state.config.general && localStorage.getItem("epbot-sandbox-welcome") !== "hidden";
  if (welcome) scroller.append(welcomePanel());
  else if (!channel.messages.length) scroller.append(el("div", "empty", t("emptyChannel")));
  let lastDay = "";
  for (const message of channel.messages) {
    const day = new Intl.DateTimeFormat(locale(), { timeZone: state.config.timezone, dateStyle: "full" }).format(new Date(Number(message.ts) * 1000));
    if (day !== lastDay) {
      scroller.append(el("div", "day", day));
      lastDay = day;
    }
    scroller.append(messageNode(message, channel.id));
  }
  list.append(scroller);
  return scroller;
}

function renderChannel(main, channel, { appTabs = false } = {}) {
  if (appTabs) main.append(appHeader(APP_MESSAGES));
  else main.append(channelHeader(channel));
  const previous = $("messages");
  const nearBottom = !previous || previous.scrollHeight - previous.scrollTop - previous.clientHeight < 80;
  const oldTop = previous ? previous.scrollTop : 0;
  const scroller = renderMessages(main, channel);
  if (appTabs) main.append(el("div", "composer-note readonly", t("readOnlyApp")));
  else main.append(composer(channel));
  requestAnimationFrame(() => {
    scroller.scrollTop = nearBottom ? scroller.scrollHeight : oldTop;
  });
}

function appHeader(active) {
  const header = el("div", "channel-header");
  const title = el("div", "channel-title");
  title.append(avatar("bot", true), el("h1", "channel-name", "epbot"), el("span", "app-badge", t("app")));
  header.append(title);
  const tabs = el("div", "tabs");
  for (const [key, label] of [[APP_HOME, t("home")], [APP_MESSAGES, t("messages")]]) {
    const tab = el("button", "tab" + (active === key ? " active" : ""), label);
    tab.type = "button";
    tab.dataset.tab = key === APP_HOME ? "home" : "messages";
    tab.addEventListener("click", () => openView(key));
    tabs.append(tab);
  }
  header.append(tabs);
  return header;
}

function renderHome(main) {
  main.append(appHeader(APP_HOME));
  const body = el("div", "home");
  const home = state.snap.home;
  if (!home) body.append(el("div", "empty", t("homeEmpty")));
  else {
    body.append(renderBlocks(home.view.blocks, ctx({
      onAction: (blockIndex, element, chosen) => post("action", {
        view_id: home.id, block_index: blockIndex, action_id: element.action_id, chosen, values: {},
      }),
    })));
  }
  main.append(body);
}

function renderMain() {
  const main = $("main");
  const scrollTop = $("messages") ? $("messages").scrollTop : 0;
  const fresh = el("main", "main");
  fresh.id = "main";
  const channel = state.snap.channel;
  if (state.view === APP_HOME) renderHome(fresh);
  else if (channel) {
    // Keep the scroll position while re-rendering the same channel.
    const holder = $("messages");
    renderChannel(fresh, channel, { appTabs: state.view === APP_MESSAGES });
    if (holder) holder.scrollTop = scrollTop;
  } else if (state.view === APP_MESSAGES) {
    fresh.append(appHeader(APP_MESSAGES), el("div", "empty", t("emptyChannel")));
  } else fresh.append(el("div", "empty", t("pickChannel")));
  main.replaceWith(fresh);
}

// --- thread and pins pane -------------------------------------------------------------------

function openPane(pane) {
  state.pane = pane;
  scheduleRefresh();
}

function renderPane() {
  const pane = $("pane");
  const channel = state.snap.channel;
  pane.replaceChildren();
  if (!state.pane || !channel) {
    pane.hidden = true;
    return;
  }
  pane.hidden = false;
  const head = el("div", "pane-head");
  const close = el("button", "close", "×");
  close.type = "button";
  close.setAttribute("aria-label", t("close"));
  close.addEventListener("click", () => {
    state.pane = null;
    scheduleRefresh();
  });
  if (state.pane.kind === "pins") {
    head.append(el("h2", "", t("pinnedItems")), close);
    pane.append(head);
    const list = el("div", "pane-body pins");
    if (!channel.pins.length) list.append(el("div", "empty", t("noPins")));
    for (const message of channel.pins) list.append(messageNode(message, channel.id, { inThread: true }));
    pane.append(list);
    return;
  }
  head.append(el("h2", "", `${t("thread")} · ${channelLabel(channel)}`), close);
  pane.append(head);
  const thread = channel.thread;
  const body = el("div", "pane-body thread");
  body.id = "thread";
  if (thread) {
    body.append(messageNode(thread.parent, channel.id, { inThread: true }));
    const count = thread.replies.length;
    body.append(el("div", "thread-count", count === 1 ? t("oneReply") : t("replies", { n: count })));
    for (const reply of thread.replies) body.append(messageNode(reply, channel.id, { inThread: true }));
  }
  pane.append(body);
  if (thread && state.view !== APP_MESSAGES) pane.append(composer(channel, { threadTs: thread.parent.ts }));
  requestAnimationFrame(() => {
    body.scrollTop = body.scrollHeight;
  });
}

// --- modals and confirm dialogs -------------------------------------------------------------

function renderModal() {
  const root = $("modal-root");
  const modal = state.snap.modal;
  const key = modal ? `${modal.id}:${modal.hash}` : null;
  if (key === state.modalKey) return; // keep what the person typed
  state.modalKey = key;
  root.replaceChildren();
  state.modalInputs = null;
  if (!modal) return;
  const view = modal.view;
  const inputs = new Map();
  state.modalInputs = inputs;
  const backdrop = el("div", "backdrop");
  const dialog = el("div", "modal");
  dialog.setAttribute("role", "dialog");
  dialog.setAttribute("aria-modal", "true");
  dialog.dataset.viewId = modal.id;
  dialog.dataset.callbackId = view.callback_id || "";
  const head = el("div", "modal-head");
  head.append(avatar("bot", true), el("h2", "modal-title", plain(view.title)));
  const close = el("button", "close", "×");
  close.type = "button";
  close.setAttribute("aria-label", t("close"));
  head.append(close);
  const context = ctx({
    inputs,
    onAction: (blockIndex, element, chosen) => post("action", {
      view_id: modal.id, block_index: blockIndex, action_id: element.action_id, chosen,
      values: collectValues(inputs).values,
    }),
  });
  const body = el("div", "modal-body");
  body.append(renderBlocks(view.blocks, context));
  const foot = el("div", "modal-foot");
  if (isDrillReport(view)) {
    // Sandbox only: Slack has no such button; it saves typing seven fields in a drill.
    const sample = el("button", "bk-btn sample-fill", t("fillSample"));
    sample.type = "button";
    sample.dataset.role = "sample";
    sample.addEventListener("click", () => fillSample(dialog));
    foot.append(sample);
  }
  const cancel = el("button", "bk-btn", view.close ? plain(view.close) : t("cancel"));
  cancel.type = "button";
  cancel.dataset.role = "cancel";
  foot.append(cancel);
  const closeModal = () => post("close", { view_id: modal.id });
  cancel.addEventListener("click", closeModal);
  close.addEventListener("click", closeModal);
  if (view.submit || [...inputs.keys()].length) {
    const submit = el("button", "bk-btn bk-primary", view.submit ? plain(view.submit) : t("submit"));
    submit.type = "button";
    submit.dataset.role = "submit";
    submit.addEventListener("click", async () => {
      const { values, errors } = collectValues(inputs);
      for (const [blockId, input] of inputs) input.showError(errors[blockId]);
      if (Object.keys(errors).length) return;
      submit.disabled = true;
      try {
        const result = await post("submit", { view_id: modal.id, values });
        if (result.errors) {
          for (const [blockId, input] of inputs) input.showError(result.errors[blockId]);
          const first = Object.keys(result.errors)[0];
          const node = first && dialog.querySelector(`[data-block-id="${CSS.escape(first)}"]`);
          if (node) node.scrollIntoView({ block: "center" });
        }
      } finally {
        submit.disabled = false;
      }
    });
    foot.append(submit);
  }
  dialog.append(head, body, foot);
  backdrop.append(dialog);
  root.append(backdrop);
  restoreDraft(dialog, key);
  dialog.addEventListener("input", () => saveDraft(dialog, key));
  dialog.addEventListener("change", () => saveDraft(dialog, key));
  const first = dialog.querySelector("input, textarea, select");
  if (first) first.focus();
}

// What was typed in a modal survives a reload: the modal itself is still open in the
// workspace, only the page's inputs were lost. Kept per tab, per view version.
const DRAFT_PREFIX = "epbot-sandbox-modal:";

function modalFields(dialog) {
  return [...dialog.querySelectorAll(".modal-body input, .modal-body textarea, .modal-body select")];
}

function fieldKey(node, index) {
  return node.id || `${node.name || node.tagName}#${index}`;
}

function saveDraft(dialog, key) {
  const saved = {};
  modalFields(dialog).forEach((node, index) => {
    if (node.type === "checkbox" || node.type === "radio") saved[fieldKey(node, index)] = node.checked;
    else if (node.multiple) saved[fieldKey(node, index)] = [...node.selectedOptions].map((o) => o.value);
    else saved[fieldKey(node, index)] = node.value;
  });
  for (const old of Object.keys(sessionStorage)) if (old.startsWith(DRAFT_PREFIX)) sessionStorage.removeItem(old);
  sessionStorage.setItem(DRAFT_PREFIX + key, JSON.stringify(saved));
}

function restoreDraft(dialog, key) {
  let saved = null;
  try {
    saved = JSON.parse(sessionStorage.getItem(DRAFT_PREFIX + key) || "null");
  } catch {
    saved = null;
  }
  if (!saved) return;
  modalFields(dialog).forEach((node, index) => {
    const value = saved[fieldKey(node, index)];
    if (value === undefined) return;
    if (node.type === "checkbox" || node.type === "radio") node.checked = Boolean(value);
    else if (node.multiple) for (const option of node.options) option.selected = value.includes(option.value);
    else node.value = dateAs(node, value);
    node.dispatchEvent(new Event("input", { bubbles: false }));
  });
}

// A date typed in one language's picker, put back into the other's (2026-01-31T09:30 <-> 2026年1月31日 09:30).
function dateAs(node, value) {
  const iso = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}:\d{2}))?$/.exec(value);
  if (node.classList.contains("bk-cn-date") && iso) {
    return `${iso[1]}年${Number(iso[2])}月${Number(iso[3])}日` + (iso[4] ? ` ${iso[4]}` : "");
  }
  const cn = /^(\d{4})年(\d{1,2})月(\d{1,2})日(?: (\d{2}:\d{2}))?$/.exec(value);
  if ((node.type === "date" || node.type === "datetime-local") && cn) {
    const date = `${cn[1]}-${cn[2].padStart(2, "0")}-${cn[3].padStart(2, "0")}`;
    return node.type === "date" ? date : `${date}T${cn[4] || "00:00"}`;
  }
  return value;
}

function isDrillReport(view) {
  if (view.callback_id !== "incident.report") return false;
  try {
    return Boolean(JSON.parse(view.private_metadata || "{}").drill);
  } catch {
    return false;
  }
}

function fillSample(dialog) {
  const sample = SAMPLE_REPORT[locale()] || SAMPLE_REPORT.en;
  for (const [blockId, value] of Object.entries(sample)) {
    const node = dialog.querySelector(`[data-block-id="${blockId}"] input, [data-block-id="${blockId}"] textarea`);
    if (node && !node.value) node.value = value;
  }
  for (const blockId of ["unit", "playbook"]) {
    const select = dialog.querySelector(`[data-block-id="${blockId}"] select`);
    if (!select || select.value || select.options.length < 2) continue;
    // The reporting unit of a database crash: the user's IT department when there is one.
    const it = [...select.options].findIndex((o) => /信息化|IT department/.test(o.textContent));
    select.selectedIndex = blockId === "unit" && it > 0 ? it : 1;
  }
  dialog.dispatchEvent(new Event("input"));
}

// Realistic values for a drill: the Art. 5.1 fields of a database crash.
const SAMPLE_REPORT = {
  "zh-CN": {
    title: "演练：主数据库宕机",
    place: "区政务云机房 B 区",
    nature: "数据库服务异常终止，平台无法写入",
    scope: "各级单位无法上传信用数据，查询正常",
    trend: "暂未扩大",
    measures: "已将门户切换为只读，正在检查数据库日志",
    contact_phone: "022-2630-0201",
  },
  en: {
    title: "Drill: primary database down",
    place: "Server room B, district cloud",
    nature: "The database process stopped; the platform cannot write",
    scope: "Units cannot upload data; queries still work",
    trend: "Not spreading",
    measures: "Portal switched to read-only; checking the database logs",
    contact_phone: "022-2630-0201",
  },
};

function showConfirm(confirm) {
  return new Promise((resolve) => {
    const root = $("confirm-root");
    const backdrop = el("div", "backdrop confirm-backdrop");
    const dialog = el("div", "modal confirm");
    dialog.setAttribute("role", "alertdialog");
    dialog.append(el("h2", "modal-title", confirm.title ? plain(confirm.title) : t("confirmDefault")));
    dialog.append(textObject(confirm.text, ctx(), "confirm-text"));
    const foot = el("div", "modal-foot");
    const deny = el("button", "bk-btn", confirm.deny ? plain(confirm.deny) : t("no"));
    deny.type = "button";
    deny.dataset.role = "deny";
    const ok = el("button", "bk-btn " + (confirm.style === "danger" ? "bk-danger" : "bk-primary"), confirm.confirm ? plain(confirm.confirm) : t("yes"));
    ok.type = "button";
    ok.dataset.role = "confirm";
    const done = (answer) => {
      root.replaceChildren();
      resolve(answer);
    };
    deny.addEventListener("click", () => done(false));
    ok.addEventListener("click", () => done(true));
    foot.append(deny, ok);
    dialog.append(foot);
    backdrop.append(dialog);
    root.replaceChildren(backdrop);
    ok.focus();
  });
}

// --- top bar ---------------------------------------------------------------------------------

function renderClock() {
  const clock = state.snap.clock;
  const now = new Date(clock.now);
  $("clock-now").textContent = new Intl.DateTimeFormat(locale(), {
    timeZone: state.config.timezone, dateStyle: "medium", timeStyle: "medium",
  }).format(now);
  $("clock-now").dateTime = clock.now;
  $("clock-offset").textContent = clock.offset_minutes ? t("offset", { m: clock.offset_minutes }) : "";
}

async function fastForward(minutes) {
  const buttons = document.querySelectorAll(".clock button");
  buttons.forEach((b) => { b.disabled = true; });
  try {
    const result = await post("clock", { minutes });
    if (result.ok) toast(t("fired", { m: minutes, n: result.fired }));
  } finally {
    buttons.forEach((b) => { b.disabled = false; });
  }
}

// The person switcher; 🔔 marks who has a page to acknowledge or an approval to decide.
let peopleKey = null;

function renderPeople() {
  const pending = (state.snap && state.snap.pending) || {};
  const key = `${locale()}|${state.user}|${JSON.stringify(pending)}`;
  if (key === peopleKey) return; // rebuilding an open <select> would close it
  peopleKey = key;
  const select = $("person");
  select.replaceChildren();
  for (const person of state.config.people) {
    const roles = person.roles.map((r) => r[locale()] || r.en).join(" / ");
    const waiting = pending[person.id] || [];
    const note = waiting.length ? `  (${waiting.map((k) => t(k === "page" ? "pendingPage" : "pendingApproval")).join(", ")})` : "";
    const option = el("option", "", `${waiting.length ? "🔔 " : ""}${person.name} — ${roles}${note}`);
    option.value = person.id;
    option.dataset.pending = waiting.join(" ");
    select.append(option);
  }
  select.value = state.user;
  const count = Object.keys(pending).length;
  $("pending-count").textContent = count ? `🔔 ${count}` : "";
  $("pending-count").title = t("pendingTitle");
}

function toast(message, isError = false) {
  const node = el("div", "toast" + (isError ? " error" : ""), message);
  $("toasts").append(node);
  setTimeout(() => node.remove(), 6000);
}

// --- navigation ------------------------------------------------------------------------------

function openView(key) {
  state.view = key;
  state.pane = null;
  localStorage.setItem("epbot-sandbox-view", key);
  if (key === APP_HOME) {
    // Slack sends app_home_opened every time the Home tab is opened.
    post("home", {});
  }
  scheduleRefresh();
}

function render() {
  // Re-rendering replaces the composers: put the caret back where the person was typing.
  const active = document.activeElement;
  const focusKey = active && active.dataset ? active.dataset.draftKey : null;
  const caret = focusKey ? [active.selectionStart, active.selectionEnd] : null;
  renderSidebar();
  renderMain();
  renderPane();
  renderModal();
  renderClock();
  renderPeople();
  if (focusKey) {
    const again = [...document.querySelectorAll("[data-draft-key]")].find((n) => n.dataset.draftKey === focusKey);
    if (again) {
      again.focus();
      again.setSelectionRange(caret[0], caret[1]);
    }
  }
}

async function start() {
  const response = await fetch("/sandbox/config");
  state.config = await response.json();
  setLocale(localStorage.getItem("epbot-sandbox-locale") || state.config.locale);
  $("lang").value = locale();
  if (locale() !== state.config.locale) {
    // This browser chose a language before: the bot speaks it too.
    state.user = state.config.default_user;
    await post("locale", { locale: locale() });
  }
  const people = state.config.people.map((p) => p.id);
  const saved = localStorage.getItem("epbot-sandbox-user");
  state.user = people.includes(saved) ? saved : state.config.default_user || people[0];
  state.view = localStorage.getItem("epbot-sandbox-view") || state.config.general;
  $("person").addEventListener("change", (event) => {
    state.user = event.target.value;
    localStorage.setItem("epbot-sandbox-user", state.user);
    state.modalKey = null;
    state.pane = null;
    if (state.view === APP_HOME) post("home", {});
    scheduleRefresh();
  });
  $("lang").addEventListener("change", async (event) => {
    setLocale(event.target.value);
    localStorage.setItem("epbot-sandbox-locale", locale());
    // The bot follows: every emulated person's Slack locale and the workspace's language.
    await post("locale", { locale: locale() });
    state.modalKey = null;
    render();
  });
  for (const button of document.querySelectorAll(".ff")) {
    button.addEventListener("click", () => fastForward(Number(button.dataset.minutes)));
  }
  $("ff-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const minutes = Number($("ff-minutes").value);
    if (Number.isInteger(minutes) && minutes > 0) fastForward(minutes);
  });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && $("confirm-root").firstChild) $("confirm-root").querySelector("[data-role=deny]").click();
  });
  connect();
  await refresh();
  if (state.view === APP_HOME) post("home", {});
}

start();
