// The console's stage panel (what vision reads, with boxes on the frame); the script panel lives
// in console_scripts.js and is re-exported from here.
import { api, h, price, roomPath } from "/static/common.js";
import { fillSelect } from "/static/console_scripts.js";

export { Scripts } from "/static/console_scripts.js";

const $ = (id) => document.getElementById(id);

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
