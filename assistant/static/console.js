// The host console: live chat with triage status and answers, wired to the other panels.
import { RoomSocket, api, h, makeI18n, roomPath } from "/static/common.js";
import { Connectors } from "/static/console_connectors.js";
import { WORDS } from "/static/console_i18n.js";
import { Shop } from "/static/console_shop.js";
import { Side } from "/static/console_side.js";
import { Scripts, Stage } from "/static/console_stage.js";

const MAX_LINES = 500;
const i18n = makeI18n(WORDS);
const t = i18n.t;

class Chat {
  constructor(list) {
    this.list = list;
    this.lines = new Map(); // chat id -> {record, node}
    this.lastTs = 0;
  }

  // A line from the store (catch-up) or from the socket; both land on the same node by id.
  upsert(chat, patch = {}) {
    let line = this.lines.get(chat.id);
    if (!line) {
      line = { record: { chat, status: "pending", reason: null, answer: null, flagged: false, dup_of: null }, node: null };
      this.lines.set(chat.id, line);
      this.lastTs = Math.max(this.lastTs, chat.ts);
    }
    Object.assign(line.record, patch);
    this.render(line);
    this.trim();
  }

  // A status or answer reaches the line and every duplicate linked to it.
  update(chatId, patch) {
    for (const line of this.lines.values()) {
      if (line.record.chat.id !== chatId && line.record.dup_of !== chatId) continue;
      Object.assign(line.record, line.record.chat.id === chatId ? patch : { status: patch.status ?? line.record.status, answer: patch.answer ?? line.record.answer });
      this.render(line);
    }
  }

  render(line) {
    const { chat, status, reason, answer, partial, flagged, dup_of: dupOf } = line.record;
    const node = h(
      "li",
      { class: `line ${status}${flagged ? " flagged" : ""}${chat.role !== "viewer" ? " staff" : ""}`, dataset: { chatId: chat.id, status } },
      h("div", { class: "who" }, h("span", { class: "name" }, chat.user.name), h("time", {}, new Date(chat.ts * 1000).toLocaleTimeString())),
      h("div", { class: "text" }, chat.text),
      h(
        "div",
        { class: "meta" },
        h("span", { class: `badge ${status}`, "data-role": "status" }, t(status)),
        reason && !flagged ? h("span", { class: "reason" }, WORDS[`reason.${reason}`] ? t(`reason.${reason}`) : reason) : null,
        dupOf ? h("span", { class: "reason" }, t("duplicate")) : null,
        flagged ? h("span", { class: "badge flagged" }, t("hostShouldAnswer")) : null,
      ),
      answer || partial ? h("div", { class: "answer", "data-role": "answer" }, answer || partial) : null,
    );
    if (line.node) line.node.replaceWith(node);
    else this.list.prepend(node);
    line.node = node;
  }

  trim() {
    while (this.lines.size > MAX_LINES) {
      const [id, line] = this.lines.entries().next().value;
      line.node?.remove();
      this.lines.delete(id);
    }
  }

  fromRecord(rec) {
    this.upsert(rec.chat, {
      status: rec.status,
      reason: rec.reason,
      answer: rec.answer,
      dup_of: rec.dup_of,
      flagged: rec.reason === "flagged_to_host",
    });
  }

  // Where catch-up starts: the oldest line still waiting, or the newest line seen.
  resumeFrom() {
    let since = this.lastTs;
    for (const { record } of this.lines.values()) {
      if (record.status === "queued" || record.status === "pending") since = Math.min(since, record.chat.ts);
    }
    return Math.max(0, since - 1);
  }

  async catchUp(first) {
    if (first) {
      for (const rec of await api(`${roomPath("/chat")}?newest=true&limit=200`)) this.fromRecord(rec);
      return;
    }
    let since = this.resumeFrom();
    for (;;) {
      const page = await api(`${roomPath("/chat")}?since=${since}&limit=1000`);
      for (const rec of page) this.fromRecord(rec);
      if (page.length < 1000) return;
      since = page[page.length - 1].chat.ts;
    }
  }

  onEvent(ev) {
    switch (ev.type) {
      case "chat":
        this.upsert(ev, ev.role === "viewer" ? {} : { status: "staff" });
        return true;
      case "chat.triaged":
        this.update(ev.chat.id, { status: "queued", intent: ev.intent });
        return true;
      case "chat.accepted":
        this.update(ev.chat_id, { status: ev.status, reason: ev.reason, ...(ev.dup_of ? { dup_of: ev.dup_of } : {}), ...(ev.reason === "flagged_to_host" ? { flagged: true } : {}) });
        return true;
      case "chat.skipped":
        this.update(ev.chat_id, { status: "skipped", reason: ev.reason });
        return true;
      case "answer.delta": {
        const line = this.lines.get(ev.chat_id);
        if (line && !line.record.answer) this.update(ev.chat_id, { partial: (line.record.partial || "") + ev.delta });
        return true;
      }
      case "answer":
        this.update(ev.chat_id, { answer: ev.text, flagged: ev.flagged, status: "answered" });
        return true;
      default:
        return false;
    }
  }

  filter(onlyFlagged) {
    this.list.classList.toggle("only-flagged", onlyFlagged);
  }
}

const chat = new Chat(document.getElementById("chat"));
const side = new Side(t);
const shop = new Shop(t);
const connectors = new Connectors(t);
// The connectors' statuses ride on the health poll that Side already runs.
side.onHealth = (health) => connectors.render(health.connectors ?? []);
const stage = new Stage(t);
let socket = null;
const scripts = new Scripts(t, (message) => socket.send(message));
stage.onPin = (sku) => socket.send({ type: "stage.set", sku });

const connState = document.getElementById("conn");
const showState = () => {
  const state = connState.dataset.state;
  connState.textContent = t(`conn${state[0].toUpperCase()}${state.slice(1)}`);
};
socket = new RoomSocket({
  onState: (state) => {
    connState.dataset.state = state;
    showState();
  },
  onOpen: async (reconnected) => {
    // The socket is subscribed before the history is read, so nothing falls between the two.
    try {
      await Promise.all([chat.catchUp(!reconnected), side.catchUp(), scripts.catchUp(), stage.catchUp()]);
      window.lcaConsole.catchUps += 1;
    } catch (err) {
      console.error("catch-up failed", err);
    }
  },
  onEvent: (ev) => {
    window.lcaConsole.events += 1;
    if (chat.onEvent(ev)) {
      if (ev.type === "answer") side.auditSoon();
      return;
    }
    if (stage.onEvent(ev) || scripts.onEvent(ev)) {
      if (ev.type === "script") side.auditSoon();
      return;
    }
    if (connectors.onEvent(ev)) return;
    side.onEvent(ev);
  },
});

// Read by people debugging a room and by the end-to-end tests.
window.lcaConsole = { events: 0, catchUps: 0, socket, chat };

document.getElementById("only-flagged").addEventListener("change", (e) => chat.filter(e.target.checked));
document.getElementById("lang").addEventListener("click", (e) => {
  i18n.set(i18n.lang === "zh" ? "en" : "zh");
  e.target.textContent = i18n.lang === "zh" ? "English" : "中文";
  showState();
  for (const line of chat.lines.values()) chat.render(line);
  side.rerender();
  stage.rerender();
  connectors.rerender();
});
document.getElementById("lang").textContent = i18n.lang === "zh" ? "English" : "中文";
i18n.apply();

async function loadCatalog() {
  try {
    const catalog = await api(roomPath("/catalog"));
    stage.setCatalog(catalog.products);
    scripts.setCatalog(catalog.products);
    shop.show(catalog.shop);
  } catch (err) {
    console.error("catalog failed to load", err);
  }
}

side.onCatalogChanged = loadCatalog;
await loadCatalog();
socket.connect();
side.startHealth();
