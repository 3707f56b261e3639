// Slack mrkdwn to DOM nodes. Every piece of text becomes a text node: no HTML is parsed.

const EMOJI = {
  alarm_clock: "⏰", arrow_double_up: "⏫", arrow_forward: "▶️", arrows_counterclockwise: "🔄",
  ballot_box_with_check: "☑️", construction: "🚧", fast_forward: "⏩", heavy_minus_sign: "➖",
  hourglass: "⌛", hourglass_flowing_sand: "⏳", large_blue_circle: "🔵", lock: "🔒",
  mega: "📣", memo: "📝", no_entry: "⛔", no_entry_sign: "🚫", ok_hand: "👌", pager: "📟",
  red_circle: "🔴", rotating_light: "🚨", tada: "🎉", unlock: "🔓", warning: "⚠️",
  white_check_mark: "✅", white_circle: "⚪", x: "❌", heavy_check_mark: "✔️",
  pushpin: "📌", bell: "🔔", fire: "🔥", eyes: "👀", thumbsup: "👍", "+1": "👍",
  information_source: "ℹ️", clock3: "🕒", calendar: "📅", telephone_receiver: "📞",
  exclamation: "❗", question: "❓", point_right: "👉", sos: "🆘", shield: "🛡️",
  stopwatch: "⏱️", speech_balloon: "💬", busts_in_silhouette: "👥", bust_in_silhouette: "👤",
  large_green_circle: "🟢", large_yellow_circle: "🟡", large_orange_circle: "🟠",
  black_circle: "⚫", heavy_plus_sign: "➕", arrow_right: "➡️", link: "🔗", books: "📚",
  clipboard: "📋", rocket: "🚀", sparkles: "✨", zap: "⚡", bulb: "💡", wrench: "🔧",
};

export function decodeEntities(text) {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

export function emojify(text) {
  return text.replace(/:([a-z0-9_+-]+):/g, (whole, name) => EMOJI[name] || whole);
}

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text !== undefined) node.textContent = text;
  return node;
}

function safeUrl(url) {
  try {
    const parsed = new URL(url);
    return ["http:", "https:", "mailto:"].includes(parsed.protocol) ? parsed.href : null;
  } catch {
    return null;
  }
}

function formatDate(seconds, ctx) {
  const date = new Date(seconds * 1000);
  return new Intl.DateTimeFormat(ctx.locale, {
    timeZone: ctx.tz, dateStyle: "medium", timeStyle: "short",
  }).format(date);
}

// <...> tokens: mentions, channels, special mentions, dates and links.
function angle(inner, ctx) {
  const [target, label] = splitOnce(inner, "|");
  if (target.startsWith("@")) {
    const id = target.slice(1);
    const user = ctx.users[id];
    const name = label || (user ? user.real_name || user.name : id);
    const node = el("span", "mention" + (id === ctx.me ? " mention-me" : ""), "@" + name);
    node.dataset.user = id;
    return node;
  }
  if (target.startsWith("#")) {
    const id = target.slice(1);
    const channel = ctx.channels[id];
    const name = label || (channel ? channel.name : id);
    const node = el("a", "channel-link", "#" + name);
    node.href = "#";
    node.dataset.channel = id;
    node.addEventListener("click", (event) => {
      event.preventDefault();
      if (ctx.openChannel) ctx.openChannel(id);
    });
    return node;
  }
  if (target.startsWith("!")) {
    const body = target.slice(1);
    if (body.startsWith("date^")) {
      const parts = body.split("^");
      const seconds = Number(parts[1]);
      return document.createTextNode(
        Number.isFinite(seconds) ? formatDate(seconds, ctx) : decodeEntities(label || ""));
    }
    if (body.startsWith("subteam^")) {
      return el("span", "mention", decodeEntities(label || "@group"));
    }
    return el("span", "mention mention-broadcast", "@" + (label ? decodeEntities(label) : body));
  }
  const url = safeUrl(decodeEntities(target));
  if (!url) return document.createTextNode(decodeEntities(label || target));
  const link = el("a", "link", decodeEntities(label || target));
  link.href = url;
  link.target = "_blank";
  link.rel = "noopener noreferrer";
  return link;
}

function splitOnce(text, sep) {
  const at = text.indexOf(sep);
  return at < 0 ? [text, ""] : [text.slice(0, at), text.slice(at + 1)];
}

// Inline styles; the closing marker must not be preceded by a space (as in Slack).
const INLINE = /<([^<>\n]+)>|`([^`\n]+)`|\*(?=\S)([^*\n]*?\S|\S)\*|(?<![A-Za-z0-9])_(?=\S)([^_\n]*?\S|\S)_(?![A-Za-z0-9])|~(?=\S)([^~\n]*?\S|\S)~/g;

function inline(text, ctx, parent) {
  let last = 0;
  INLINE.lastIndex = 0;
  for (const match of text.matchAll(INLINE)) {
    if (match.index > last) appendText(parent, text.slice(last, match.index));
    if (match[1] !== undefined) parent.append(angle(match[1], ctx));
    else if (match[2] !== undefined) parent.append(el("code", "code", decodeEntities(match[2])));
    else {
      const tag = match[3] !== undefined ? "strong" : match[4] !== undefined ? "em" : "s";
      const node = el(tag);
      inline(match[3] ?? match[4] ?? match[5], ctx, node);
      parent.append(node);
    }
    last = match.index + match[0].length;
  }
  if (last < text.length) appendText(parent, text.slice(last));
}

function appendText(parent, raw) {
  parent.append(document.createTextNode(emojify(decodeEntities(raw))));
}

// Block level: ``` code blocks, &gt; quotes, lines.
export function mrkdwn(text, ctx) {
  const root = el("div", "mrkdwn");
  const chunks = String(text || "").split("```");
  chunks.forEach((chunk, index) => {
    if (index % 2 === 1) {
      root.append(el("pre", "pre", decodeEntities(chunk.replace(/^\n/, ""))));
      return;
    }
    const lines = chunk.split("\n");
    let quote = null;
    lines.forEach((line, i) => {
      const quoted = line.startsWith("&gt; ") || line === "&gt;";
      const target = quoted ? (quote ||= root.appendChild(el("blockquote", "quote"))) : root;
      if (!quoted) quote = null;
      const content = quoted ? line.replace(/^&gt; ?/, "") : line;
      const span = el("span", "line");
      inline(content, ctx, span);
      target.append(span);
      if (i < lines.length - 1 && !(quoted && lines[i + 1].startsWith("&gt;"))) {
        target.append(document.createElement("br"));
      } else if (quoted && i < lines.length - 1) {
        target.append(document.createElement("br"));
      }
    });
  });
  return root;
}

// A text object: plain_text or mrkdwn.
export function textObject(obj, ctx, cls) {
  if (!obj) return el("span", cls || "");
  if (obj.type === "mrkdwn") {
    const node = mrkdwn(obj.text, ctx);
    if (cls) node.classList.add(cls);
    return node;
  }
  return el("span", cls || "", obj.emoji === false ? obj.text : emojify(obj.text || ""));
}

export function plain(obj) {
  return obj ? emojify(obj.text || "") : "";
}
