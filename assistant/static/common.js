// Shared by the console and the overlay: the room address, HTTP with the token, a socket that
// reconnects by itself, safe DOM building and the zh/en switch.

const params = new URLSearchParams(location.search);
export const token = params.get("token") || "";
export const roomId = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");

export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.body = body;
  }
}

export async function api(path, options = {}) {
  const headers = { Authorization: `Bearer ${token}`, ...(options.headers || {}) };
  const resp = await fetch(path, { ...options, headers });
  const type = resp.headers.get("content-type") || "";
  const body = type.includes("json") ? await resp.json() : await resp.blob();
  if (!resp.ok) throw new ApiError(resp.status, body);
  return body;
}

export const roomPath = (suffix) => `/v1/rooms/${encodeURIComponent(roomId)}${suffix}`;

// Viewers' text is untrusted: every string goes in as a text node, never as HTML.
export function h(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : String(value));
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : String(child));
  }
  return node;
}

export function newId() {
  const bytes = new Uint8Array(16);
  crypto.getRandomValues(bytes);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

export async function copyText(text) {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Plain http on a LAN address is not a secure context: copy from a scratch text area.
      const area = h("textarea", { class: "scratch", readonly: true });
      area.value = text;
      document.body.append(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
}

export const price = (value) => `¥${Number(value).toFixed(2).replace(/\.00$/, "")}`;

// Close codes after which reconnecting cannot help.
const FINAL_CLOSE = new Set([4401]);

export class RoomSocket {
  constructor({ onEvent, onAudio = null, onOpen = null, onState = null, batch = true }) {
    Object.assign(this, { onEvent, onAudio, onOpen, onState, batch });
    this.ws = null;
    this.attempt = 0;
    this.opens = 0;
    this.audioHeader = null;
  }

  url() {
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    const query = `token=${encodeURIComponent(token)}${this.batch ? "&batch=1" : ""}`;
    return `${scheme}://${location.host}${roomPath("/ws")}?${query}`;
  }

  connect() {
    const ws = new WebSocket(this.url());
    ws.binaryType = "arraybuffer";
    this.ws = ws;
    this.onState?.("connecting");
    ws.onopen = () => {
      this.attempt = 0;
      this.opens += 1;
      this.onState?.("open");
      this.onOpen?.(this.opens > 1);
    };
    ws.onmessage = (msg) => this.receive(msg.data);
    ws.onclose = (event) => {
      if (this.ws !== ws) return;
      this.ws = null;
      this.audioHeader = null;
      if (FINAL_CLOSE.has(event.code)) {
        this.onState?.("refused", event.reason);
        return;
      }
      this.onState?.("reconnecting");
      // Exponential backoff with jitter, so a restarted server is not hit by every page at once.
      const delay = Math.min(8000, 300 * 2 ** this.attempt) * (0.5 + Math.random() / 2);
      this.attempt += 1;
      setTimeout(() => this.connect(), delay);
    };
  }

  receive(data) {
    if (typeof data !== "string") {
      const header = this.audioHeader;
      this.audioHeader = null;
      if (header) this.onAudio?.(header, data);
      return;
    }
    let parsed;
    try {
      parsed = JSON.parse(data);
    } catch {
      return;
    }
    for (const event of Array.isArray(parsed) ? parsed : [parsed]) {
      if (event.type === "audio.chunk") this.audioHeader = event;
      else this.onEvent(event);
    }
  }

  send(message) {
    if (!this.ws || this.ws.readyState !== WebSocket.OPEN) return false;
    this.ws.send(JSON.stringify(message));
    return true;
  }
}

// Pages mark text with data-i18n="key"; the dictionary holds {key: [zh, en]}.
export function makeI18n(dict) {
  let lang = "zh";
  try {
    lang = params.get("lang") || localStorage.getItem("lca.lang") || "zh";
  } catch {
    lang = params.get("lang") || "zh";
  }
  const t = (key) => {
    const entry = dict[key];
    if (!entry) return key;
    return lang === "en" ? entry[1] : entry[0];
  };
  const apply = () => {
    document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
    for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
    for (const node of document.querySelectorAll("[data-i18n-title]")) node.title = t(node.dataset.i18nTitle);
  };
  const set = (next) => {
    lang = next;
    try {
      localStorage.setItem("lca.lang", lang);
    } catch {
      /* storage may be off (private mode, OBS); the switch still works for this page */
    }
    apply();
  };
  return { t, apply, set, get lang() { return lang; } };
}
