// The console's side panels: room health, recommendations sent, compliance audit, catalog upload.
import { ApiError, api, h, price, roomPath } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const HEALTH_EVERY_MS = 2000;
const MAX_RECS = 100;

const ms = (lat) => (lat ? `${lat.p50_ms} / ${lat.p95_ms} ms (n=${lat.count})` : "—");

export class Side {
  constructor(t) {
    this.t = t;
    this.recs = new Map(); // recommendation id -> event
    this.health = null;
    this.auditTimer = null;
    this.onCatalogChanged = null;
    this.onHealth = null; // called with each health reading once it is drawn
    $("catalog-file").addEventListener("change", (e) => this.upload(e.target));
  }

  async catchUp() {
    const [recs] = await Promise.all([api(`${roomPath("/outputs/recommendation")}?limit=${MAX_RECS}`), this.loadAudit()]);
    for (const rec of recs) this.recs.set(rec.id, rec);
    this.renderRecs();
  }

  onEvent(ev) {
    if (ev.type === "recommendation") {
      this.recs.set(ev.id, ev);
      this.renderRecs();
    } else if (ev.type === "catalog.updated") {
      this.onCatalogChanged?.();
    }
  }

  rerender() {
    this.renderRecs();
    this.renderHealth();
    this.loadAudit();
  }

  renderRecs() {
    const items = [...this.recs.values()].sort((a, b) => b.ts - a.ts).slice(0, MAX_RECS);
    $("recs").replaceChildren(
      ...items.map((rec) =>
        h(
          "li",
          { dataset: { recId: rec.id } },
          h("div", {}, h("strong", {}, `${this.t("for")} ${rec.target_user}`), ` · ${rec.query}`),
          h("ul", {}, rec.items.map((item) => h("li", {}, `${item.title} ${price(item.price)} — ${item.reason}`))),
        ),
      ),
    );
  }

  // Compliance rewrites are stored with answers and scripts; re-read shortly after either.
  auditSoon() {
    clearTimeout(this.auditTimer);
    this.auditTimer = setTimeout(() => this.loadAudit(), 800);
  }

  async loadAudit() {
    const entries = await api(`${roomPath("/outputs/compliance")}?limit=50`);
    $("audit").replaceChildren(
      ...entries.reverse().map((entry) =>
        h(
          "li",
          {},
          h("span", { class: "badge" }, entry.source),
          h("ul", {}, entry.changes.map((c) => h("li", {}, h("del", {}, c.before), " → ", h("ins", {}, c.after || "∅"), ` (${c.rule})`))),
          entry.text_after ? h("div", { class: "muted" }, entry.text_after) : null,
        ),
      ),
    );
  }

  startHealth() {
    const tick = async () => {
      try {
        this.health = await api(roomPath("/health"));
        this.renderHealth();
      } catch (err) {
        console.warn("health failed", err);
      }
      setTimeout(tick, HEALTH_EVERY_MS);
    };
    tick();
  }

  renderHealth() {
    const hl = this.health;
    if (!hl) return;
    $("room-title").textContent = hl.room.title;
    const conns = Object.entries(hl.connections).map(([role, n]) => `${role} ${n}`).join(" · ") || "0";
    const rows = [
      ["backlog", String(hl.backlog)],
      ["connections", conns],
      ["latAnswer", ms(hl.latencies.answer)],
      ["latVision", ms(hl.latencies.vision)],
      ["latScript", ms(hl.latencies.script)],
    ];
    const caps = hl.capabilities.map((c) => [c.name.toUpperCase(), c.detail, c.ok]);
    $("health").replaceChildren(
      ...rows.flatMap(([key, value]) => [h("dt", {}, this.t(key)), h("dd", { dataset: { health: key } }, value)]),
      ...caps.flatMap(([name, detail, ok]) => [
        h("dt", {}, name),
        h("dd", { class: ok ? "ok" : "bad", dataset: { health: name.toLowerCase() } }, detail),
      ]),
    );
    const tts = hl.capabilities.find((c) => c.name === "tts");
    $("anchor").hidden = !tts;
    if (tts) {
      const cur = tts.info.current;
      $("anchor-current").textContent = cur ? `[${cur.kind}] ${cur.text}` : "—";
      $("anchor-queue").replaceChildren(...tts.info.upcoming.map((u) => h("li", {}, `[${u.kind}] ${u.text}`)));
    }
    this.onHealth?.(hl);
  }

  async upload(input) {
    const file = input.files[0];
    if (!file) return;
    const result = $("upload-result");
    const table = $("upload-errors");
    table.hidden = true;
    const csv = /\.csv$/i.test(file.name) || file.type.includes("csv");
    try {
      const body = await file.arrayBuffer();
      const done = await api(roomPath("/catalog/upload"), {
        method: "POST",
        body,
        headers: { "Content-Type": csv ? "text/csv" : "application/json" },
      });
      result.className = "ok";
      result.textContent = `${this.t("uploaded")}: ${done.products}`;
      this.onCatalogChanged?.();
    } catch (err) {
      result.className = "bad";
      result.textContent = `${this.t("uploadFailed")}: ${err.message}`;
      const rows = err instanceof ApiError && err.body && Array.isArray(err.body.details) ? err.body.details : [];
      table.tBodies[0].replaceChildren(
        ...rows.map((row) =>
          h("tr", { dataset: { row: row.row ?? "" } }, h("td", {}, row.row ?? ""), h("td", {}, row.sku ?? ""), h("td", {}, row.field ?? (row.loc || []).join(".")), h("td", {}, row.msg ?? "")),
        ),
      );
      table.hidden = rows.length === 0;
    } finally {
      input.value = "";
    }
  }
}
