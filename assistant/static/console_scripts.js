// The console's script panel: a script streams in, then shows section by section for the host
// to steer: rewrite one section, shorten it, switch its style, approve it for the virtual anchor.
import { api, copyText, h, newId, roomPath } from "/static/common.js";

const $ = (id) => document.getElementById(id);

// ``first`` names an i18n key for a leading "no choice" option.
export function fillSelect(select, products, first) {
  const keep = select.value;
  select.replaceChildren(
    ...(first ? [h("option", { value: "", "data-i18n": first }, "")] : []),
    ...products.map((p) => h("option", { value: p.sku }, `${p.sku} · ${p.title}`)),
  );
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

const seconds = () => Math.min(600, Math.max(10, Number($("script-seconds").value) || 60));

export class Scripts {
  constructor(t, send) {
    this.t = t;
    this.send = send;
    this.scripts = new Map(); // request id -> {id, text, done, fallback, sku, style, sections, ...}
    // Approval as this session heard it from script.approved events (there is no read-back yet).
    this.approved = new Map(); // request id -> bool
    this.current = null; // the newest script asked for: shown, and steered once it is done
    $("script-go").addEventListener("click", () => this.request());
    $("script-copy").addEventListener("click", () => this.copy());
    $("script-shorten").addEventListener("click", () => this.edit({ action: "shorten" }));
    $("script-approve").addEventListener("click", () => this.approve());
    for (const button of $("script-restyle").querySelectorAll("button[data-style]")) {
      button.addEventListener("click", () => this.restyle(button.dataset.style));
    }
  }

  setCatalog(products) {
    fillSelect($("script-sku"), products, "onStageOption");
    $("script-sku").options[0].textContent = this.t("onStageOption");
  }

  // The finished script the steering controls act on; none while a newer one still streams.
  subject() {
    const script = this.scripts.get(this.current);
    return script?.done && script.sku ? script : null;
  }

  // Every request, new or an edit, gets its own id: the script it produces carries it back.
  ask(fields, secs = null) {
    const id = newId();
    if (!this.send({ type: "script.request", id, ...fields })) return;
    this.track(id, { sku: fields.sku ?? null, style: fields.style ?? null, base: fields.base ?? null, seconds: secs });
    this.current = id;
    this.render();
  }

  track(id, fields) {
    const script = { id, text: "", done: false, fallback: false, sections: [], deltas: 0, ...fields };
    this.scripts.set(id, script);
    return script;
  }

  request() {
    const secs = seconds();
    this.ask({ sku: $("script-sku").value || null, style: $("script-style").value, seconds: secs }, secs);
  }

  edit(fields) {
    const base = this.subject();
    if (base) this.ask({ ...fields, base: base.id, sku: base.sku }, base.seconds);
  }

  // A fresh script of the same product in another style (a plain request, not an edit).
  restyle(style) {
    const base = this.subject();
    if (!base || style === base.style) return;
    $("script-style").value = style;
    const secs = base.seconds ?? seconds();
    this.ask({ sku: base.sku, style, seconds: secs }, secs);
  }

  // Sends the toggle; the mark changes only when the server's script.approved comes back.
  approve() {
    const script = this.subject();
    if (script) this.send({ type: "script.approve", request_id: script.id, approved: !this.approved.get(script.id) });
  }

  finish(script, body) {
    const { text, fallback, sku, style } = body;
    Object.assign(script, { text, fallback, sku, style, done: true, sections: body.sections || [], base: body.base ?? null });
  }

  async catchUp() {
    // A script that finished while the socket was down arrives whole from the store.
    const bodies = await api(`${roomPath("/outputs/script")}?limit=20`);
    for (const body of bodies) {
      const known = this.scripts.get(body.request_id);
      if (known && !known.done) this.finish(known, body);
    }
    // A fresh page shows the room's newest script, ready to steer without writing another.
    const newest = bodies.at(-1);
    if (this.current === null && newest && !this.scripts.has(newest.request_id)) {
      this.finish(this.track(newest.request_id, { seconds: null }), newest);
      this.current = newest.request_id;
    }
    this.render();
  }

  onEvent(ev) {
    if (ev.type === "script.approved") {
      this.approved.set(ev.request_id, ev.approved);
      if (ev.request_id === this.current) this.render();
      return true;
    }
    if (ev.type !== "script.delta" && ev.type !== "script") return false;
    const known = this.scripts.get(ev.request_id);
    if (!known) return true; // another console's or the anchor loop's request
    if (ev.type === "script.delta") {
      if (known.done) return true;
      known.text += ev.delta;
      known.deltas += 1;
    } else this.finish(known, ev);
    if (ev.request_id === this.current) this.render();
    return true;
  }

  render() {
    const script = this.scripts.get(this.current);
    if (!script) return;
    const state = $("script-state");
    state.dataset.state = script.done ? "done" : "streaming";
    state.dataset.deltas = String(script.deltas);
    state.textContent = script.done ? (script.fallback ? this.t("fallback") : this.t("done")) : this.t("streaming");
    // While a script (or an edit of one) streams it reads as plain text; once done, by section.
    const sectioned = script.done && script.sections.length > 0;
    $("script-text").textContent = script.text;
    $("script-text").hidden = sectioned;
    const list = $("script-sections");
    list.hidden = !sectioned;
    if (sectioned) list.dataset.requestId = script.id;
    else delete list.dataset.requestId;
    list.replaceChildren(...(sectioned ? script.sections.map((s) => this.section(s)) : []));
    this.renderSteer(script);
  }

  section(s) {
    const key = `kind.${s.kind}`;
    const label = this.t(key);
    return h(
      "li",
      { class: "section", dataset: { index: String(s.index), kind: s.kind } },
      h("span", { class: `badge kind ${s.kind}`, "data-i18n": label === key ? null : key }, label === key ? s.kind : label),
      h("span", { class: "section-text" }, s.text),
      h("button", { type: "button", class: "rewrite", "data-i18n": "rewrite", onclick: () => this.edit({ action: "regenerate", section: s.index }) }, this.t("rewrite")),
    );
  }

  renderSteer(script) {
    const subject = this.subject();
    $("script-steer").hidden = false;
    $("script-shorten").disabled = !subject;
    for (const button of $("script-restyle").querySelectorAll("button[data-style]")) {
      const mine = button.dataset.style === script.style;
      button.setAttribute("aria-pressed", String(mine));
      button.disabled = !subject || mine;
    }
    const approved = Boolean(subject && this.approved.get(subject.id));
    const approve = $("script-approve");
    approve.disabled = !subject;
    approve.setAttribute("aria-pressed", String(approved));
    approve.dataset.i18n = approved ? "unapprove" : "approve";
    approve.textContent = this.t(approve.dataset.i18n);
    $("script-approved").hidden = !approved;
  }

  async copy() {
    await copyText(this.scripts.get(this.current)?.text ?? $("script-text").textContent);
    $("script-state").textContent = this.t("copied");
  }
}
