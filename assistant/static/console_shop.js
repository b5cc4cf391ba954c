// The room's shop facts (how to buy, shipping, returns, ...): shown and edited in the console.
import { api, roomPath } from "/static/common.js";

const FIELDS = ["how_to_buy", "shipping", "returns", "after_sales", "invoice", "payment"];
const $ = (id) => document.getElementById(id);

export class Shop {
  constructor(t) {
    this.t = t;
    $("shop-form").addEventListener("submit", (e) => {
      e.preventDefault();
      this.save();
    });
  }

  show(shop) {
    for (const field of FIELDS) $(`shop-${field}`).value = shop?.[field] ?? "";
  }

  async save() {
    const result = $("shop-result");
    const body = Object.fromEntries(FIELDS.map((field) => [field, $(`shop-${field}`).value.trim()]));
    try {
      this.show(await api(roomPath("/shop"), { method: "PUT", body: JSON.stringify(body), headers: { "Content-Type": "application/json" } }));
      result.className = "ok";
      result.textContent = this.t("shopSaved");
    } catch (err) {
      result.className = "bad";
      result.textContent = `${this.t("shopFailed")}: ${err.message}`;
    }
  }
}
