// Block Kit to DOM: layout blocks, interactive elements, and input blocks of modals.

import { mrkdwn, plain, textObject } from "./mrkdwn.js";
import { locale, t } from "./i18n.js";

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

// --- time zones: the pickers show and read wall time in the workspace's zone -------------

function zonedParts(ms, tz) {
  const parts = new Intl.DateTimeFormat("en-US", {
    timeZone: tz, hourCycle: "h23", year: "numeric", month: "2-digit", day: "2-digit",
    hour: "2-digit", minute: "2-digit", second: "2-digit",
  }).formatToParts(new Date(ms));
  const get = (type) => Number(parts.find((p) => p.type === type).value);
  return { y: get("year"), m: get("month"), d: get("day"), h: get("hour"), min: get("minute"), s: get("second") };
}

const pad = (n) => String(n).padStart(2, "0");

export function toLocalInput(seconds, tz) {
  const p = zonedParts(seconds * 1000, tz);
  return `${p.y}-${pad(p.m)}-${pad(p.d)}T${pad(p.h)}:${pad(p.min)}`;
}

export function fromLocalInput(value, tz) {
  const match = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})/.exec(value || "");
  if (!match) return null;
  const [y, m, d, h, min] = match.slice(1).map(Number);
  const wanted = Date.UTC(y, m - 1, d, h, min);
  let guess = wanted;
  for (let i = 0; i < 2; i += 1) {
    const p = zonedParts(guess, tz);
    const shown = Date.UTC(p.y, p.m - 1, p.d, p.h, p.min, p.s);
    guess += wanted - shown;
  }
  return Math.floor(guess / 1000);
}

// --- Chinese dates: a native date input follows the browser's language, not the page's, so
// the zh-CN page uses a text input written and read as 2026年1月31日 (09:30).

const CN_DATE = /^\s*(\d{4})\s*[年\-/.]\s*(\d{1,2})\s*[月\-/.]\s*(\d{1,2})\s*日?\s*(?:(\d{1,2})\s*[:：时]\s*(\d{1,2})\s*分?)?\s*$/;

function cnDate(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  return `${y}年${m}月${d}日`;
}

// "2026年1月31日 09:30" -> "2026-01-31T09:30" (or "2026-01-31"); null when it is no date.
function parseCn(text, withTime) {
  const match = CN_DATE.exec(text || "");
  if (!match) return null;
  const [y, m, d] = match.slice(1, 4).map(Number);
  const probe = new Date(Date.UTC(y, m - 1, d));
  if (probe.getUTCMonth() !== m - 1 || probe.getUTCDate() !== d) return null;
  const date = `${y}-${pad(m)}-${pad(d)}`;
  if (!withTime) return match[4] === undefined ? date : null;
  if (match[4] === undefined) return null;
  const [h, min] = [Number(match[4]), Number(match[5])];
  if (h > 23 || min > 59) return null;
  return `${date}T${pad(h)}:${pad(min)}`;
}

function cnPicker(initial, withTime) {
  const node = el("input", "bk-input bk-cn-date");
  node.type = "text";
  node.inputMode = "numeric";
  node.placeholder = withTime ? t("dateTimeFormatHint") : t("dateFormatHint");
  if (initial) {
    const [date, time] = initial.split("T");
    node.value = cnDate(date) + (withTime && time ? ` ${time.slice(0, 5)}` : "");
  }
  return node;
}

// --- elements ------------------------------------------------------------------------------

function optionText(option) {
  return option && option.text ? plain(option.text) : "";
}

function allOptions(element) {
  if (element.option_groups) return element.option_groups.flatMap((g) => g.options || []);
  return element.options || [];
}

function selectNode(element, placeholder) {
  const select = el("select", "bk-select");
  const empty = el("option", "", placeholder);
  empty.value = "";
  select.append(empty);
  const addOption = (parent, option, index) => {
    const node = el("option", "", optionText(option));
    node.value = String(index);
    parent.append(node);
  };
  let index = 0;
  if (element.option_groups) {
    for (const group of element.option_groups) {
      const node = el("optgroup");
      node.label = plain(group.label);
      for (const option of group.options || []) addOption(node, option, index++);
      select.append(node);
    }
  } else {
    for (const option of element.options || []) addOption(select, option, index++);
  }
  const initial = element.initial_option;
  if (initial) {
    const found = allOptions(element).findIndex((o) => o.value === initial.value);
    if (found >= 0) select.value = String(found);
  }
  return select;
}

function selectedOption(element, select) {
  if (select.value === "") return null;
  const option = allOptions(element)[Number(select.value)];
  return option ? { text: option.text, value: option.value } : null;
}

function usersNode(element, ctx) {
  const select = el("select", "bk-select");
  const empty = el("option", "", element.placeholder ? plain(element.placeholder) : t("chooseUser"));
  empty.value = "";
  select.append(empty);
  const people = Object.entries(ctx.users).filter(([, u]) => !u.is_bot);
  people.sort((a, b) => (a[1].real_name || a[1].name).localeCompare(b[1].real_name || b[1].name));
  for (const [id, user] of people) {
    const node = el("option", "", user.real_name || user.name);
    node.value = id;
    select.append(node);
  }
  if (element.initial_user) select.value = element.initial_user;
  return select;
}

// An interactive element; ``read()`` gives its state as Slack reports it.
function control(element, ctx) {
  const type = element.type;
  const placeholder = element.placeholder ? plain(element.placeholder) : t("choose");
  if (type === "static_select" || type === "external_select") {
    const node = selectNode(element, placeholder);
    return { node, read: () => ({ type, selected_option: selectedOption(element, node) }), empty: () => node.value === "" };
  }
  if (type === "multi_static_select") {
    const node = selectNode(element, placeholder);
    node.multiple = true;
    node.options[0].remove();
    for (const initial of element.initial_options || []) {
      const found = allOptions(element).findIndex((o) => o.value === initial.value);
      if (found >= 0) node.options[found].selected = true;
    }
    const read = () => ({ type, selected_options: [...node.selectedOptions].map((o) => allOptions(element)[Number(o.value)]) });
    return { node, read, empty: () => node.selectedOptions.length === 0 };
  }
  if (type === "users_select") {
    const node = usersNode(element, ctx);
    return { node, read: () => ({ type, selected_user: node.value || null }), empty: () => node.value === "" };
  }
  if (type === "conversations_select" || type === "channels_select") {
    const node = el("select", "bk-select");
    const empty = el("option", "", placeholder);
    empty.value = "";
    node.append(empty);
    for (const [id, channel] of Object.entries(ctx.channels)) {
      if (channel.kind !== "channel") continue;
      const option = el("option", "", "#" + channel.name);
      option.value = id;
      node.append(option);
    }
    const key = type === "channels_select" ? "selected_channel" : "selected_conversation";
    const initial = element.initial_channel || element.initial_conversation;
    if (initial) node.value = initial;
    return { node, read: () => ({ type, [key]: node.value || null }), empty: () => node.value === "" };
  }
  if (type === "datepicker" && locale() === "zh-CN") {
    const node = cnPicker(element.initial_date, false);
    const read = () => ({ type, selected_date: parseCn(node.value, false) });
    return { node, read, empty: () => !parseCn(node.value, false) };
  }
  if (type === "datetimepicker" && locale() === "zh-CN") {
    const initial = element.initial_date_time ? toLocalInput(element.initial_date_time, ctx.tz) : "";
    const node = cnPicker(initial, true);
    const read = () => {
      const value = parseCn(node.value, true);
      return { type, selected_date_time: value ? fromLocalInput(value, ctx.tz) : null };
    };
    return { node, read, empty: () => !parseCn(node.value, true) };
  }
  if (type === "datepicker") {
    const node = el("input", "bk-input");
    node.type = "date";
    if (element.initial_date) node.value = element.initial_date;
    return { node, read: () => ({ type, selected_date: node.value || null }), empty: () => !node.value };
  }
  if (type === "timepicker") {
    const node = el("input", "bk-input");
    node.type = "time";
    if (element.initial_time) node.value = element.initial_time;
    return { node, read: () => ({ type, selected_time: node.value || null }), empty: () => !node.value };
  }
  if (type === "datetimepicker") {
    const node = el("input", "bk-input");
    node.type = "datetime-local";
    if (element.initial_date_time) node.value = toLocalInput(element.initial_date_time, ctx.tz);
    const read = () => ({ type, selected_date_time: fromLocalInput(node.value, ctx.tz) });
    return { node, read, empty: () => !node.value };
  }
  if (type === "checkboxes" || type === "radio_buttons") {
    const node = el("div", "bk-choices");
    const name = "c" + Math.random().toString(36).slice(2);
    const inputs = (element.options || []).map((option) => {
      const label = el("label", "bk-choice");
      const input = el("input");
      input.type = type === "checkboxes" ? "checkbox" : "radio";
      input.name = name;
      const initial = element.initial_options || (element.initial_option ? [element.initial_option] : []);
      input.checked = initial.some((o) => o.value === option.value);
      label.append(input, textObject(option.text, ctx));
      node.append(label);
      return [input, option];
    });
    const chosen = () => inputs.filter(([input]) => input.checked).map(([, o]) => o);
    const read = () => (type === "checkboxes"
      ? { type, selected_options: chosen() }
      : { type, selected_option: chosen()[0] || null });
    return { node, read, empty: () => chosen().length === 0 };
  }
  if (type === "plain_text_input" || type === "number_input" || type === "email_text_input" || type === "url_text_input") {
    const node = element.multiline ? el("textarea", "bk-input bk-textarea") : el("input", "bk-input");
    if (!element.multiline) {
      node.type = { number_input: "text", email_text_input: "email", url_text_input: "url" }[type] || "text";
    }
    if (element.placeholder) node.placeholder = plain(element.placeholder);
    if (element.initial_value !== undefined) node.value = String(element.initial_value);
    if (element.max_length) node.maxLength = element.max_length;
    const read = () => ({ type, value: node.value === "" ? null : node.value });
    return { node, read, empty: () => node.value.trim() === "" };
  }
  return null;
}

function button(element, ctx, onClick) {
  const node = el("button", "bk-btn" + (element.style ? " bk-" + element.style : ""), plain(element.text));
  node.type = "button";
  node.dataset.actionId = element.action_id || "";
  if (element.value !== undefined) node.dataset.value = element.value;
  if (element.url) node.title = element.url;
  node.addEventListener("click", async () => {
    if (element.confirm && !(await ctx.confirm(element.confirm))) return;
    node.disabled = true;
    try {
      await onClick({});
    } finally {
      node.disabled = false;
    }
  });
  return node;
}

// An element outside an input block: a change is sent to the app at once.
function activeElement(element, blockIndex, ctx) {
  const send = (chosen) => ctx.onAction(blockIndex, element, chosen);
  if (element.type === "button") return button(element, ctx, send);
  if (element.type === "image") return imageNode(element);
  if (element.type === "overflow") {
    const node = selectNode(element, "⋯");
    node.classList.add("bk-overflow");
    node.dataset.actionId = element.action_id || "";
    node.addEventListener("change", () => {
      const option = selectedOption(element, node);
      if (option) send({ selected_option: option });
    });
    return node;
  }
  const made = control(element, ctx);
  if (!made) return el("span", "bk-unknown", element.type);
  made.node.dataset.actionId = element.action_id || "";
  made.node.addEventListener("change", () => {
    const state = made.read();
    delete state.type;
    send(state);
  });
  return made.node;
}

function imageNode(element) {
  // Images stay offline: the alt text stands in for a picture from the Internet.
  const node = el("span", "bk-image", "🖼 " + (element.alt_text || t("image")));
  return node;
}

// --- blocks --------------------------------------------------------------------------------

function section(block, index, ctx) {
  const node = el("div", "bk-section");
  const body = el("div", "bk-section-body");
  if (block.text) body.append(textObject(block.text, ctx, "bk-text"));
  if (block.fields) {
    const fields = el("div", "bk-fields");
    for (const field of block.fields) fields.append(textObject(field, ctx, "bk-field"));
    body.append(fields);
  }
  node.append(body);
  if (block.accessory) {
    const accessory = el("div", "bk-accessory");
    accessory.append(activeElement(block.accessory, index, ctx));
    node.append(accessory);
  }
  return node;
}

function context(block, ctx) {
  const node = el("div", "bk-context");
  for (const element of block.elements || []) {
    node.append(element.type === "image" ? imageNode(element) : textObject(element, ctx, "bk-context-item"));
  }
  return node;
}

function actions(block, index, ctx) {
  const node = el("div", "bk-actions");
  for (const element of block.elements || []) node.append(activeElement(element, index, ctx));
  return node;
}

function input(block, index, ctx) {
  const blockId = block.block_id || "sandbox-" + index;
  const node = el("div", "bk-input-block");
  node.dataset.blockId = blockId;
  const label = el("label", "bk-label", plain(block.label));
  if (block.optional) label.append(el("span", "bk-optional", t("optional")));
  node.append(label);
  const made = control(block.element || {}, ctx);
  if (!made) {
    node.append(el("span", "bk-unknown", (block.element || {}).type || "?"));
    return node;
  }
  made.node.dataset.actionId = block.element.action_id || "";
  made.node.id = "in-" + blockId;
  label.htmlFor = made.node.id;
  node.append(made.node);
  if (block.hint) node.append(el("div", "bk-hint", plain(block.hint)));
  const error = el("div", "bk-error");
  error.hidden = true;
  node.append(error);
  if (ctx.inputs) {
    ctx.inputs.set(blockId, {
      actionId: block.element.action_id || "",
      read: made.read,
      empty: made.empty,
      optional: Boolean(block.optional),
      minLength: block.element.min_length || 0,
      showError: (message) => {
        error.textContent = message || "";
        error.hidden = !message;
        node.classList.toggle("has-error", Boolean(message));
      },
    });
  }
  return node;
}

function richText(block, ctx) {
  const node = el("div", "bk-rich");
  const inlineNodes = (elements, parent) => {
    for (const item of elements || []) {
      let child;
      if (item.type === "text") {
        child = el(item.style && item.style.code ? "code" : "span", item.style && item.style.code ? "code" : "", item.text);
        if (item.style && item.style.bold) child.classList.add("b");
        if (item.style && item.style.italic) child.classList.add("i");
        if (item.style && item.style.strike) child.classList.add("s");
      } else if (item.type === "link") {
        child = mrkdwn(`<${item.url}|${item.text || item.url}>`, ctx);
      } else if (item.type === "user") {
        child = mrkdwn(`<@${item.user_id}>`, ctx);
      } else if (item.type === "channel") {
        child = mrkdwn(`<#${item.channel_id}>`, ctx);
      } else if (item.type === "emoji") {
        child = mrkdwn(`:${item.name}:`, ctx);
      } else {
        continue;
      }
      parent.append(child);
    }
  };
  for (const part of block.elements || []) {
    if (part.type === "rich_text_section") {
      const p = el("div", "bk-rich-section");
      inlineNodes(part.elements, p);
      node.append(p);
    } else if (part.type === "rich_text_preformatted") {
      const p = el("pre", "pre");
      inlineNodes(part.elements, p);
      node.append(p);
    } else if (part.type === "rich_text_quote") {
      const p = el("blockquote", "quote");
      inlineNodes(part.elements, p);
      node.append(p);
    } else if (part.type === "rich_text_list") {
      const list = el(part.style === "ordered" ? "ol" : "ul", "bk-list");
      for (const item of part.elements || []) {
        const li = el("li");
        inlineNodes(item.elements, li);
        list.append(li);
      }
      node.append(list);
    }
  }
  return node;
}

export function renderBlocks(blocks, ctx) {
  const root = el("div", "blocks");
  (blocks || []).forEach((block, index) => {
    let node = null;
    switch (block.type) {
      case "header":
        node = el("div", "bk-header", plain(block.text));
        break;
      case "section":
        node = section(block, index, ctx);
        break;
      case "context":
        node = context(block, ctx);
        break;
      case "divider":
        node = el("hr", "bk-divider");
        break;
      case "actions":
        node = actions(block, index, ctx);
        break;
      case "input":
        node = input(block, index, ctx);
        break;
      case "image":
        node = imageNode(block);
        break;
      case "rich_text":
        node = richText(block, ctx);
        break;
      default:
        node = null;
    }
    if (node) {
      node.dataset.blockIndex = String(index);
      if (block.block_id) node.dataset.blockId = block.block_id;
      root.append(node);
    }
  });
  return root;
}

// ``view.state.values`` of a modal, and Slack's own checks before it submits.
export function collectValues(inputs) {
  const values = {};
  const errors = {};
  for (const [blockId, input] of inputs) {
    const state = input.read();
    values[blockId] = { [input.actionId]: state };
    if (!input.optional && input.empty()) errors[blockId] = t("required");
    else if (input.minLength && state.value && state.value.length < input.minLength) {
      errors[blockId] = t("tooShort", { n: input.minLength });
    }
  }
  return { values, errors };
}
