// The console's stage panel (what vision reads, with boxes on the frame) and script panel.
import { api, h, newId, price, roomPath } from "/static/common.js";

const $ = (id) => document.getElementById(id);

// ``first`` names an i18n key for a leading "no choice" option.
function fillSelect(select, products, first) {
  const keep = select.value;
  select.replaceChildren(
    ...(first ? [h("option", { value: "", "data-i18n": first }, "")] : []),
    ...products.map((p) => h("option", { value: p.sku }, `${p.sku} · ${p.title}`)),
  );
  if ([...select.options].some((o) => o.value === keep)) select.value = keep;
}

export class Stage {
  constructor(t) {
    this.t = t;
    this.products = new Map();
    this.update = null;
    this.owner = null; // the core's stage event: pin > the anchor's product > vision
    this.drawing = false;
    this.queued = null;
    this.drawn = 0;
    this.onPin = null;
    $("pin").addEventListener("click", () => $("pin-sku").value && this.onPin?.($("pin-sku").value));
    $("unpin").addEventListener("click", () => this.onPin?.(null));
  }

  setCatalog(products) {
    this.products = new Map(products.map((p) => [p.sku, p]));
    fillSelect($("pin-sku"), products, null);
    this.rerender();
  }

  async catchUp() {
    const health = await api(roomPath("/health"));
    this.owner = health.stage;
    if (health.vision) this.show(health.vision);
    else this.renderOwner();
  }

  onEvent(ev) {
    if (ev.type === "vision.update") {
      this.show(ev);
      return true;
    }
    if (ev.type === "stage.set") {
      if (ev.sku) $("pin-sku").value = ev.sku;
      return true;
    }
    if (ev.type === "stage") {
      this.owner = ev;
      this.renderOwner();
      return true;
    }
    return false;
  }

  // What the whole room treats as on stage (an anchor room's product too, with no frames at all).
  renderOwner() {
    const sku = this.owner?.sku ?? null;
    const product = sku ? this.products.get(sku) : null;
    $("stage-sku").textContent = sku || "—";
    $("stage-title").textContent = product ? `${product.title} ${price(product.price)}` : "";
    $("stage-pinned").hidden = this.owner?.source !== "pin";
  }

  show(update) {
    this.update = update;
    this.rerender();
    this.draw(update);
  }

  rerender() {
    const u = this.update;
    if (!u) return this.renderOwner();
    this.renderOwner();
    $("stage-conf").textContent = u.stage.sku ? `(${Math.round(u.stage.confidence * 100)}%)` : "";
    $("ocr").replaceChildren(...u.ocr_lines.map((line) => h("li", {}, line)));
    $("counts").replaceChildren(...Object.entries(u.counts).map(([name, n]) => h("li", {}, `${name}: ${n}`)));
    $("vision-latency").textContent = `${Math.round(u.latency_ms)} ms`;
    const warn = $("price-warning");
    const m = u.price_mismatch;
    warn.hidden = !m;
    if (m) warn.textContent = `${this.t("screenPrice")}: ${m.sku} ${price(m.screen_price)} ≠ ${this.t("catalogPrice")} ${price(m.catalog_price)}`;
  }

  // Vision updates can outpace frame downloads: draw the newest, skip the ones in between.
  async draw(update) {
    if (this.drawing) {
      this.queued = update;
      return;
    }
    this.drawing = true;
    try {
      const blob = await api(roomPath(`/frames/${encodeURIComponent(update.frame_id)}`));
      const image = await createImageBitmap(blob);
      const canvas = $("frame");
      const scale = canvas.width / image.width;
      canvas.height = Math.round(image.height * scale);
      const ctx = canvas.getContext("2d");
      ctx.drawImage(image, 0, 0, canvas.width, canvas.height);
      ctx.lineWidth = 2;
      ctx.font = "12px sans-serif";
      for (const d of update.detections) {
        const [top, left, bottom, right] = d.box.map((v) => v * scale);
        ctx.strokeStyle = "#ff3b5c";
        ctx.strokeRect(left, top, right - left, bottom - top);
        ctx.fillStyle = "#ff3b5c";
        ctx.fillText(`${d.class_name} ${Math.round(d.score * 100)}%`, left + 2, Math.max(12, top - 2));
      }
      this.drawn += 1;
      canvas.hidden = false;
      canvas.dataset.frameId = update.frame_id;
      canvas.dataset.boxes = String(update.detections.length);
    } catch (err) {
      // The frame may have aged out of the server's short history; the next update redraws.
      console.warn("frame not drawn", err);
    } finally {
      this.drawing = false;
      const next = this.queued;
      this.queued = null;
      if (next) this.draw(next);
    }
  }
}

export class Scripts {
  constructor(t, send) {
    this.t = t;
    this.send = send;
    this.scripts = new Map(); // request id -> {text, done, fallback}
    this.current = null;
    $("script-go").addEventListener("click", () => this.request());
    $("script-copy").addEventListener("click", () => this.copy());
  }

  setCatalog(products) {
    fillSelect($("script-sku"), products, "onStageOption");
    $("script-sku").options[0].textContent = this.t("onStageOption");
  }

  request() {
    const id = newId();
    const sku = $("script-sku").value || null;
    const seconds = Math.min(600, Math.max(10, Number($("script-seconds").value) || 60));
    const sent = this.send({ type: "script.request", id, sku, style: $("script-style").value, seconds });
    if (!sent) return;
    this.current = id;
    this.scripts.set(id, { text: "", done: false, fallback: false });
    this.render();
  }

  async catchUp() {
    // A script that finished while the socket was down arrives whole from the store.
    for (const body of await api(`${roomPath("/outputs/script")}?limit=20`)) {
      const known = this.scripts.get(body.request_id);
      if (known && !known.done) {
        Object.assign(known, { text: body.text, done: true, fallback: body.fallback });
      }
    }
    this.render();
  }

  onEvent(ev) {
    if (ev.type !== "script.delta" && ev.type !== "script") return false;
    const known = this.scripts.get(ev.request_id);
    if (!known) return true; // another console's or the anchor loop's request
    if (ev.type === "script.delta") {
      known.text += ev.delta;
      known.deltas = (known.deltas || 0) + 1;
    }
    else Object.assign(known, { text: ev.text, done: true, fallback: ev.fallback });
    if (ev.request_id === this.current) this.render();
    return true;
  }

  render() {
    const script = this.scripts.get(this.current);
    if (!script) return;
    $("script-text").textContent = script.text;
    const state = $("script-state");
    state.dataset.state = script.done ? "done" : "streaming";
    state.dataset.deltas = String(script.deltas || 0);
    state.textContent = script.done ? (script.fallback ? this.t("fallback") : this.t("done")) : this.t("streaming");
  }

  async copy() {
    const text = $("script-text").textContent;
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // Plain http on a LAN address is not a secure context: fall back to a selection.
      const range = document.createRange();
      range.selectNodeContents($("script-text"));
      getSelection().removeAllRanges();
      getSelection().addRange(range);
      document.execCommand("copy");
    }
    $("script-state").textContent = this.t("copied");
  }
}
