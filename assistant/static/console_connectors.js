// The console's platform connectors: each one's status (from the health poll), start and stop,
// a relay's address and token (shown once), and recent gifts, likes and follows from platforms.
import { ApiError, api, copyText, h, roomPath } from "/static/common.js";

const $ = (id) => document.getElementById(id);
const MAX_ACTIVITY = 20;
const TONE = { connected: "ok", starting: "warn", reconnecting: "warn", failed: "bad", ended: "muted", stopped: "muted" };

// A typed API error as one line, with a 422's fields: "request failed validation (url: …)".
function describe(err) {
  if (!(err instanceof ApiError)) return err.message;
  const details = Array.isArray(err.body?.details) ? err.body.details : [];
  const fields = details.map((d) => `${(d.loc || []).filter((p) => p !== "body").join(".") || d.field || "?"}: ${d.msg}`);
  return fields.length ? `${err.message} (${fields.join("; ")})` : err.message;
}

export class Connectors {
  constructor(t) {
    this.t = t;
    this.statuses = [];
    this.rows = new Map(); // connector id -> {node, info, stop}: kept across polls, so a click lands
    this.activity = []; // newest first
    $("connector-kind").addEventListener("change", () => this.showFields());
    $("connector-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.start();
    });
    for (const button of $("relay-info").querySelectorAll("button[data-copy]")) {
      button.addEventListener("click", () => this.copy($(button.dataset.copy).value));
    }
    this.showFields();
  }

  showFields() {
    const kind = $("connector-kind").value;
    for (const set of $("connector-form").querySelectorAll("fieldset[data-kind]")) {
      set.hidden = set.dataset.kind !== kind;
      set.disabled = set.hidden;
    }
  }

  // The visible fields as the spec's JSON: numbers as numbers, empty fields left to the defaults.
  spec() {
    const kind = $("connector-kind").value;
    const body = { kind };
    for (const input of $("connector-form").querySelectorAll(`fieldset[data-kind="${kind}"] [name]`)) {
      if (input.type === "checkbox") body[input.name] = input.checked;
      else if (input.value.trim() !== "") body[input.name] = input.type === "number" ? Number(input.value) : input.type === "password" ? input.value : input.value.trim();
    }
    return body;
  }

  async start() {
    const result = $("connector-result");
    const body = this.spec();
    $("relay-info").hidden = true;
    try {
      const started = await api(roomPath("/connectors"), { method: "POST", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } });
      result.className = "ok";
      result.textContent = `${this.t("connectorStarted")}: ${started.status.id}`;
      for (const input of $("connector-form").querySelectorAll('input[type="password"]')) input.value = "";
      if (started.relay_path) {
        $("relay-url").value = location.origin + started.relay_path;
        $("relay-token").value = started.relay_token;
        $("relay-info").hidden = false;
      }
      this.upsert(started.status);
    } catch (err) {
      result.className = "bad";
      result.textContent = `${this.t("connectorFailed")}: ${describe(err)}`;
    }
  }

  async stop(id) {
    const result = $("connector-result");
    try {
      this.upsert(await api(roomPath(`/connectors/${encodeURIComponent(id)}`), { method: "DELETE" }));
      result.textContent = "";
    } catch (err) {
      result.className = "bad";
      result.textContent = `${this.t("connectorStopFailed")}: ${describe(err)}`;
    }
  }

  async copy(text) {
    await copyText(text);
    $("connector-result").className = "ok";
    $("connector-result").textContent = this.t("copied");
  }

  upsert(status) {
    this.render([...this.statuses.filter((s) => s.id !== status.id), status]);
  }

  // The room's connectors as health lists them; a row stopped here stays until the next poll.
  render(statuses) {
    if (statuses) this.statuses = statuses;
    const seen = new Set();
    for (const status of this.statuses) {
      seen.add(status.id);
      let row = this.rows.get(status.id);
      if (!row) {
        const stop = h("button", { type: "button", class: "stop", onclick: () => this.stop(status.id) });
        const info = h("div", { class: "info" });
        row = { node: h("li", { class: "connector", dataset: { connectorId: status.id } }, info, stop), info, stop };
        this.rows.set(status.id, row);
      }
      this.fill(row, status);
      $("connectors").append(row.node); // in the order health lists them
    }
    for (const [id, row] of this.rows) {
      if (seen.has(id)) continue;
      row.node.remove();
      this.rows.delete(id);
    }
    $("connectors-empty").hidden = this.rows.size > 0;
  }

  fill(row, s) {
    const live = s.state !== "stopped" && s.state !== "ended" && s.state !== "failed";
    row.node.dataset.state = s.state;
    row.stop.textContent = this.t(live ? "connectorStop" : "connectorRemove");
    row.stop.disabled = s.state === "stopped";
    const stat = (key, value) => h("span", { dataset: { stat: key } }, `${this.t(key)} ${value}`);
    const lines = [
      h(
        "div",
        {},
        h("strong", {}, this.t(`connectorKind.${s.kind}`)),
        " ",
        h("span", { class: "muted" }, s.id),
        " ",
        h("span", { class: `badge state ${TONE[s.state] || "muted"}`, dataset: { role: "state", state: s.state } }, this.t(`state.${s.state}`)),
      ),
      h(
        "div",
        { class: "stats" },
        stat("received", s.received),
        stat("dropped", s.dropped),
        stat("reconnects", s.reconnects),
        stat("replies", s.replies),
        stat("lag", s.lag_s === null || s.lag_s === undefined ? "—" : `${s.lag_s.toFixed(2)} s`),
      ),
      s.detail ? h("div", { class: "muted" }, s.detail) : null,
      s.last_error ? h("div", { class: "bad", dataset: { role: "error" } }, s.last_error) : null,
    ];
    row.info.replaceChildren(...lines.filter(Boolean));
  }

  onEvent(ev) {
    if (ev.type !== "platform.activity") return false;
    this.activity.unshift(ev);
    this.activity.length = Math.min(this.activity.length, MAX_ACTIVITY);
    this.renderActivity();
    return true;
  }

  // "阿花 送出 小心心 ×3": names and items are the platform's untrusted text, set as text nodes.
  renderActivity() {
    $("activity").replaceChildren(
      ...this.activity.map((ev) =>
        h(
          "li",
          { dataset: { kind: ev.kind } },
          h("span", { class: "badge" }, ev.platform),
          " ",
          h("strong", { class: "name" }, ev.user.name),
          ` ${this.t(`act.${ev.kind}`)}`,
          ev.item ? ` ${ev.item}` : "",
          ev.count > 1 ? ` ×${ev.count}` : "",
          ev.value ? h("span", { class: "muted" }, ` · ${this.t("actValue")} ${ev.value}`) : null,
        ),
      ),
    );
    $("activity-empty").hidden = this.activity.length > 0;
  }

  rerender() {
    this.render();
    this.renderActivity();
  }
}
