// The console in a real browser (Debian's chromium through playwright-core)
// against `minimall serve --demo`: the owner builds a product, a customer
// buys and pays through the API and the sandbox, staff ship it in two
// parcels and open one parcel's route history, approve an after-sale,
// publish a review, export orders; a customer-service account does not see
// the ship button; the owner turns on
// two-step verification, logs in with a recovery code, and turns it off
// again (a wrong password first, which keeps the session). Screenshots of each
// page go to E2E_SCREENSHOTS (default e2e/screenshots).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { deflateSync, crc32 } from "node:zlib";
import { createHmac } from "node:crypto";
import { chromium } from "playwright-core";
import { startDemo } from "./server.js";

const here = path.dirname(fileURLToPath(import.meta.url));
const shots = process.env.E2E_SCREENSHOTS ?? path.join(here, "screenshots");
const chromiumPath = process.env.CHROMIUM ?? "/usr/bin/chromium";
mkdirSync(shots, { recursive: true });

let demo, browser;
before(async () => {
  demo = await startDemo();
  browser = await chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic", "--no-first-run", "--disable-component-update", "--disable-sync"],
  });
});
after(async () => {
  await browser?.close();
  await demo?.stop();
});

// ---- the API side: a customer and the sandbox ----

async function call(method, route, token, body) {
  const r = await fetch(demo.baseURL + route, {
    method,
    headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  const json = text ? JSON.parse(text) : null;
  if (!r.ok) throw new Error(`${method} ${route}: ${r.status} ${text}`);
  return json;
}

async function customer(name) {
  const s = await call("POST", "/api/v1/auth/wechat/login", null, { code: `test-${name}` });
  const addr = await call("POST", "/api/v1/addresses", s.access_token, {
    name: "李四", phone: "13900139000", province: "广东省", city: "深圳市", district: "南山区", detail: "科技园 1 号", is_default: true,
  });
  return { token: s.access_token, addressId: addr.id };
}

async function buyAndPay(c, items) {
  const order = await call("POST", "/api/v1/orders", c.token, { address_id: c.addressId, items });
  const pay = await call("POST", `/api/v1/orders/${order.id}/pay`, c.token, { channel: "wechat" });
  const prepay = pay.request_payment.package.replace("prepay_id=", "");
  const r = await fetch(demo.sandboxURL + "/_sandbox/wechatpay/pay", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ prepay_id: prepay }),
  });
  assert.equal(r.status, 200, await r.text());
  return waitFor(async () => {
    const o = await call("GET", `/api/v1/orders/${order.id}`, c.token);
    return o.status === "paid" ? o : null;
  }, "order paid");
}

async function waitFor(fn, what, ms = 60_000) {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

// png makes a real image for the upload (the server decodes what it stores).
function png(w, h, rgb) {
  const chunk = (type, data) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td) >>> 0);
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(w, 0);
  ihdr.writeUInt32BE(h, 4);
  ihdr[8] = 8;
  ihdr[9] = 2;
  const raw = Buffer.alloc((w * 3 + 1) * h);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) raw.set(rgb, y * (w * 3 + 1) + 1 + x * 3);
  }
  return Buffer.concat([Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]), chunk("IHDR", ihdr), chunk("IDAT", deflateSync(raw)), chunk("IEND", Buffer.alloc(0))]);
}

// totp is the code an authenticator app shows now (RFC 6238: HMAC-SHA1,
// 30-second steps, six digits) for a base32 secret.
function totp(secret, at = Date.now()) {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const ch of secret.replace(/=+$/, "").toUpperCase()) bits += alphabet.indexOf(ch).toString(2).padStart(5, "0");
  const key = Buffer.from(bits.match(/.{8}/g).map((b) => parseInt(b, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30000)));
  const h = createHmac("sha1", key).update(counter).digest();
  const o = h[h.length - 1] & 15;
  return String((h.readUInt32BE(o) & 0x7fffffff) % 1_000_000).padStart(6, "0");
}

// ---- the browser side ----

async function newPage(viewport = { width: 1280, height: 800 }) {
  const context = await browser.newContext({ viewport, acceptDownloads: true, locale: "zh-CN" });
  const page = await context.newPage();
  const problems = [];
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => {
    // A CSP violation or a failed script shows up here.
    if (m.type() === "error" && /Content Security Policy|Refused to/.test(m.text())) problems.push(m.text());
  });
  page.problems = problems;
  return page;
}

async function shot(page, name) {
  await page.waitForLoadState("networkidle").catch(() => {});
  // Let dialogs finish closing and toasts settle.
  await page.locator(".el-overlay-dialog:visible").waitFor({ state: "hidden", timeout: 3000 }).catch(() => {});
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: false });
}

const $ = (page, t) => page.locator(`[data-test="${t}"]`).first();

async function fill(page, t, value) {
  const el = $(page, t);
  const tag = await el.evaluate((e) => e.tagName);
  const input = tag === "INPUT" || tag === "TEXTAREA" ? el : el.locator("input").first();
  await input.fill(String(value));
}

async function choose(page, t, optionText) {
  // Wait for any other select's dropdown to finish closing, so the option
  // clicked is in the dropdown this click opens.
  await page.waitForFunction(() => [...document.querySelectorAll(".el-select-dropdown")].every((e) => e.getClientRects().length === 0));
  await $(page, t).click();
  await page.locator(".el-select-dropdown__item:visible", { hasText: optionText }).first().click();
}

async function login(page, username, password) {
  await page.goto(demo.baseURL + "/admin/login");
  await fill(page, "username", username);
  await fill(page, "password", password);
  await $(page, "login-submit").click();
  await page.waitForURL((u) => !u.pathname.endsWith("/login"));
}

async function ownerToken() {
  const r = await call("POST", "/api/v1/admin/auth/login", null, { username: "owner", password: "demo-owner-pass" });
  return r.access_token;
}

test("the merchant console, end to end", async (t) => {
  const page = await newPage();
  page.setDefaultTimeout(20_000);
  const stamp = Date.now().toString(36).slice(-5);
  const categoryName = `测试分类${stamp}`;
  const title = `测试商品 ${stamp}`;
  let productId, skus, paidOrder, secondOrder;
  // Steps build on each other: after a failure the rest are skipped, and
  // the page at the failure is kept as a screenshot.
  let failed = false;
  const step = (name, fn) =>
    t.test(name, { skip: failed && "an earlier step failed" }, async () => {
      try {
        await fn();
      } catch (e) {
        failed = true;
        await page.screenshot({ path: path.join(shots, "failure.png") }).catch(() => {});
        throw e;
      }
    });

  await step("login: the API's refusal is shown, then the owner logs in", async () => {
    await page.goto(demo.baseURL + "/admin/");
    await page.waitForURL(/\/admin\/login/);
    await fill(page, "username", "owner");
    await fill(page, "password", "wrong-password");
    await $(page, "login-submit").click();
    const err = $(page, "login-error");
    await err.waitFor();
    assert.match(await err.innerText(), /\S/);
    await shot(page, "01-login");
    await login(page, "owner", "demo-owner-pass");
    assert.match(await $(page, "who").innerText(), /owner/);
  });

  await step("catalog: a category, then a product with two spec dimensions and an image, on shelf", async () => {
    await page.goto(demo.baseURL + "/admin/catalog/categories");
    await $(page, "category-add-root").click();
    await fill(page, "category-name", categoryName);
    await $(page, "category-save").click();
    await page.locator(".el-tree-node__content", { hasText: categoryName }).waitFor();
    await shot(page, "02-categories");

    await page.goto(demo.baseURL + "/admin/catalog/products/new");
    await fill(page, "product-category", categoryName);
    await page.locator(".el-cascader__suggestion-item:visible", { hasText: categoryName }).first().click();
    await fill(page, "product-title", title);
    await page.locator('[data-test="image-file"]').setInputFiles({ name: "red.png", mimeType: "image/png", buffer: png(64, 64, [220, 30, 30]) });
    await page.locator('[data-test="product-images"] img').first().waitFor();
    await $(page, "dim-add").click();
    await fill(page, "dim-name-0", "颜色");
    await fill(page, "dim-values-0", "红色，蓝色");
    await $(page, "dim-add").click();
    await fill(page, "dim-name-1", "尺码");
    await fill(page, "dim-values-1", "S,M");
    await page.locator('[data-test="sku-table"] .el-table__body tr').nth(3).waitFor();
    assert.equal(await page.locator('[data-test="sku-table"] .el-table__body tr').count(), 4);
    // Prices as people type them; the request must carry exact fen.
    const typed = ["19.99", "0.1", "0.2", "1234.5"];
    for (let i = 0; i < 4; i++) {
      await fill(page, `sku-price-${i}`, typed[i]);
      await fill(page, `sku-initial-stock-${i}`, 10);
    }
    await $(page, "product-on-shelf").click();
    await shot(page, "03-product-new");
    const [req] = await Promise.all([
      page.waitForRequest((r) => r.method() === "POST" && r.url().endsWith("/api/v1/admin/products")),
      $(page, "product-save").click(),
    ]);
    const sent = JSON.parse(req.postData());
    assert.deepEqual(sent.skus.map((s) => s.price_fen), [1999, 10, 20, 123450]);
    assert.deepEqual(sent.skus.map((s) => s.specs), [
      { 颜色: "红色", 尺码: "S" }, { 颜色: "红色", 尺码: "M" }, { 颜色: "蓝色", 尺码: "S" }, { 颜色: "蓝色", 尺码: "M" },
    ]);
    assert.equal(sent.images.length, 1);
    assert.match(sent.images[0], /\/media\//);
    assert.equal(sent.on_shelf, true);
    await page.waitForURL(/\/catalog\/products\/\d+$/);
    productId = Number(page.url().split("/").pop());
    await page.locator('[data-test="shelf-state"]', { hasText: "已上架" }).waitFor();

    // The customer side sees it, with the same fen.
    const p = await call("GET", `/api/v1/products/${productId}`);
    skus = p.skus;
    assert.deepEqual(skus.map((s) => s.price_fen).sort((a, b) => a - b), [10, 20, 1999, 123450]);
    await shot(page, "04-product-edit");
  });

  await step("stock: a compare-and-set against a stale value shows the conflict, then succeeds", async () => {
    await $(page, "sku-adjust-0").click();
    await $(page, "stock-mode-set").click();
    await fill(page, "stock-expected", 7); // stale: the stock is 10
    await fill(page, "stock-set", 25);
    await fill(page, "stock-reason", "盘点");
    await $(page, "stock-submit").click();
    const conflict = $(page, "stock-conflict");
    await conflict.waitFor();
    assert.match(await conflict.innerText(), /10/);
    await shot(page, "05-stock-conflict");
    await $(page, "stock-submit").click(); // expected is now the real 10
    await page.locator('[data-test="sku-stock-0"]', { hasText: "25" }).waitFor();
  });

  await step("a customer buys two lines and pays; the order shows on the dashboard and the list", async () => {
    const c = await customer(`e2e${stamp}`);
    const [a, b] = [skus.find((s) => s.price_fen === 1999), skus.find((s) => s.price_fen === 10)];
    paidOrder = await buyAndPay(c, [{ sku_id: a.id, quantity: 1 }, { sku_id: b.id, quantity: 2 }]);
    paidOrder.customer = c;
    secondOrder = await buyAndPay(c, [{ sku_id: a.id, quantity: 1 }]);

    // Staff see the sales on the dashboard: today's orders, takings and the chart.
    await page.goto(demo.baseURL + "/admin/dashboard");
    await $(page, "today-orders").waitFor();
    assert.ok(Number(await $(page, "today-orders").innerText()) >= 2, "today's orders");
    assert.ok(Number(await $(page, "today-paid").innerText()) >= 2, "today's paid orders");
    const gmv = await $(page, "today-gmv").innerText();
    assert.ok(Number(gmv.replace("¥", "")) >= (1999 + 2 * 10 + 1999) / 100, `today's takings ${gmv}`);
    assert.ok(Number(await $(page, "to-ship").innerText()) >= 2, "orders to ship");
    await page.locator('[data-test="trend-chart"] canvas').waitFor();
    await page.locator('[data-test="top-products"]', { hasText: title }).waitFor();
    await shot(page, "06-dashboard");

    await page.goto(demo.baseURL + "/admin/orders");
    await fill(page, "orders-no", paidOrder.order_no);
    await $(page, "orders-search").click();
    await page.locator(`[data-test="order-link-${paidOrder.order_no}"]`).waitFor();
    await shot(page, "07-orders");
  });

  await step("orders: ship in two parcels", async () => {
    await page.goto(demo.baseURL + `/admin/orders/${paidOrder.id}`);
    await $(page, "ship-open").click();
    await choose(page, "parcel-carrier-0", "顺丰");
    await fill(page, "parcel-tracking-0", `SF${stamp}0001`);
    await $(page, "parcel-add").click();
    await choose(page, "parcel-carrier-1", "中通");
    await fill(page, "parcel-tracking-1", `ZT${stamp}0002`);
    const [, second] = paidOrder.items;
    await $(page, `parcel-1-item-${second.id}`).click();
    await shot(page, "08-ship-dialog");
    await $(page, "ship-submit").click();
    await page.locator('[data-test="order-status"]', { hasText: "已发货" }).waitFor();
    assert.equal(await page.locator('[data-test="parcels"] .el-table__body tr').count(), 2);
    await shot(page, "09-order-shipped");
  });

  await step("orders: a parcel's route history", async () => {
    const no = `ZT${stamp}0002`.toUpperCase();
    const r = await fetch(demo.sandboxURL + "/_sandbox/courier/advance", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ tracking_no: no }),
    });
    assert.equal(r.status, 200, await r.text());
    const row = page.locator('[data-test="parcels"] .el-table__body tr', { hasText: no }).first();
    await row.locator(".el-table__expand-icon").click();
    const events = page.locator(`[data-test="tracking-${no}"]`, { hasText: "快件已被揽收" });
    await events.waitFor();
    await events.scrollIntoViewIfNeeded();
    // The parcel's state follows the route history just read.
    await row.locator("td", { hasText: "已揽收" }).first().waitFor();
    await shot(page, "09b-parcel-tracking");
  });

  await step("after-sales: approve a lower refund, and the refund shows", async () => {
    const c = paidOrder.customer;
    const [first] = paidOrder.items;
    const as = await call("POST", "/api/v1/aftersales", c.token, {
      order_id: paidOrder.id, type: "refund_only", items: [{ order_item_id: first.id, quantity: 1 }], reason: "not_received",
    });
    await page.goto(demo.baseURL + "/admin/aftersales");
    await page.locator(`[data-test="aftersale-link-${as.id}"]`).waitFor();
    await shot(page, "10-aftersales");
    await page.locator(`[data-test="aftersale-link-${as.id}"]`).click();
    await $(page, "aftersale-approve").click();
    await fill(page, "approve-amount", "9.99");
    await fill(page, "approve-reason", "部分补偿");
    const [req] = await Promise.all([
      page.waitForRequest((r) => r.method() === "POST" && r.url().includes(`/aftersales/${as.id}/approve`)),
      $(page, "approve-submit").click(),
    ]);
    assert.deepEqual(JSON.parse(req.postData()), { refund_fen: 999, reason: "部分补偿" });
    // The sandbox refunds a moment later: reload until the refund row shows.
    await waitFor(async () => {
      await page.reload();
      await $(page, "aftersale-status").waitFor();
      const rows = await page.locator('[data-test="aftersale-refunds"] .el-table__body tr').count();
      return rows > 0 && /已退款/.test(await $(page, "aftersale-status").innerText());
    }, "the refund");
    assert.equal(await $(page, "aftersale-refund").innerText(), "¥9.99");
    await shot(page, "11-aftersale-refunded");
    await page.goto(demo.baseURL + `/admin/orders/${paidOrder.id}`);
    await page.locator('[data-test="order-refunded"]', { hasText: "¥9.99" }).waitFor();
  });

  await step("reviews: a held review is published and replied to", async () => {
    const c = paidOrder.customer;
    await call("POST", `/api/v1/orders/${paidOrder.id}/confirm`, c.token);
    const [, second] = paidOrder.items;
    const r = await call("POST", `/api/v1/orders/${paidOrder.id}/reviews`, c.token, {
      items: [{ order_item_id: second.id, rating: 5, content: "质量很好 review-word" }],
    });
    const id = r.items[0].id;
    await page.goto(demo.baseURL + "/admin/reviews");
    await page.locator(`[data-test="review-publish-${id}"]`).waitFor();
    await shot(page, "12-reviews");
    await page.locator(`[data-test="review-publish-${id}"]`).click();
    await page.locator(`[data-test="review-state-${id}"]`, { hasText: "已公开" }).waitFor();
    await page.locator(`[data-test="review-reply-${id}"]`).click();
    await fill(page, "reply-text", "感谢支持");
    await $(page, "reply-submit").click();
    await page.locator('[data-test="reviews-table"]', { hasText: "感谢支持" }).waitFor();
    const pub = await call("GET", `/api/v1/products/${productId}/reviews`);
    assert.ok(pub.items.some((x) => x.id === id), "the published review is public");
  });

  await step("orders: the CSV export downloads the filtered list with a BOM", async () => {
    await page.goto(demo.baseURL + "/admin/orders");
    await choose(page, "orders-status", "已完成");
    await $(page, "orders-search").click();
    await page.locator(`[data-test="order-link-${paidOrder.order_no}"]`).waitFor();
    const [download] = await Promise.all([page.waitForEvent("download"), $(page, "orders-export").click()]);
    const file = readFileSync(await download.path());
    assert.deepEqual([...file.subarray(0, 3)], [0xef, 0xbb, 0xbf], "UTF-8 BOM");
    const lines = file.toString("utf8").slice(1).trim().split("\r\n");
    const header = lines[0].split(",");
    assert.equal(header[0], "订单号");
    const row = lines.find((l) => l.startsWith(paidOrder.order_no));
    assert.ok(row, "the order is in the export");
    assert.ok(!lines.some((l) => l.startsWith(secondOrder.order_no)), "the filter applies: the paid order is not");
    assert.match(row, /已完成/);
    assert.match(row, /李四/);
  });

  await step("staff: the owner creates a customer-service account, who cannot ship", async () => {
    // The owner sees the ship button on the paid order.
    await page.goto(demo.baseURL + `/admin/orders/${secondOrder.id}`);
    await $(page, "ship-open").waitFor();

    const username = `cs${stamp}`;
    await page.goto(demo.baseURL + "/admin/staff");
    await $(page, "staff-new").click();
    await fill(page, "staff-username", username);
    await fill(page, "staff-password", "cs-password-123");
    await choose(page, "staff-role", "客服");
    await $(page, "staff-create").click();
    await page.locator('[data-test="staff-table"]', { hasText: username }).waitFor();
    await shot(page, "13-staff");
    // The audit log has the account's creation and the stock change.
    await page.goto(demo.baseURL + "/admin/audit");
    await page.locator('[data-test="audit-table"]', { hasText: "stock.adjust" }).waitFor();
    await shot(page, "13-audit");
    await $(page, "logout").click();
    await page.waitForURL(/\/login/);
    assert.equal(await page.evaluate(() => sessionStorage.length), 0, "logout clears the session");

    await login(page, username, "cs-password-123");
    await page.goto(demo.baseURL + `/admin/orders/${secondOrder.id}`);
    await $(page, "order-status").waitFor();
    assert.equal(await page.locator('[data-test="ship-open"]').count(), 0, "no ship button for customer service");
    assert.equal(await page.locator('[data-test="nav-staff"]').count(), 0, "no staff page for customer service");
    assert.equal(await page.locator('[data-test="refund-open"]').count(), 1, "customer service may refund");
    await shot(page, "14-order-customer-service");
  });

  await step("session expiry sends staff back to login", async () => {
    await page.evaluate(() => {
      const k = "minimall.console.session";
      const s = JSON.parse(sessionStorage.getItem(k));
      s.token = "forged." + s.token.split(".").slice(1).join(".");
      sessionStorage.setItem(k, JSON.stringify(s));
    });
    await page.goto(demo.baseURL + "/admin/orders");
    await page.waitForURL(/\/login/);
    await $(page, "expired").waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.length), 0);
  });

  await step("English, and a wide screen", async () => {
    const wide = await newPage({ width: 1920, height: 1080 });
    await login(wide, "owner", "demo-owner-pass");
    await wide.goto(demo.baseURL + "/admin/orders");
    await choose(wide, "locale", "English");
    await wide.locator('[data-test="orders-export"]', { hasText: "Export CSV" }).waitFor();
    await shot(wide, "15-orders-english-1920");
    assert.deepEqual(wide.problems, []);
    await wide.context().close();
  });

  // The second-factor steps share a page and the secret.
  let p2, totpSecret, activatedStep;
  await step("two-step verification: the owner turns it on, then logs in with a recovery code", async () => {
    p2 = await newPage();
    p2.setDefaultTimeout(20_000);
    await login(p2, "owner", "demo-owner-pass");
    await p2.goto(demo.baseURL + "/admin/security");
    await $(p2, "totp-enrol").click();
    const secret = (await $(p2, "totp-secret").innerText()).replace(/\s/g, "");
    // The provisioning QR code is drawn in the page, as a PNG that decoded.
    const qr = await $(p2, "totp-qr").evaluate((img) => ({ src: img.src, w: img.naturalWidth }));
    assert.match(qr.src, /^data:image\/png;base64,/);
    assert.ok(qr.w >= 100, `QR code ${qr.w} pixels wide`);
    await shot(p2, "16-security-qr");
    activatedStep = Math.floor(Date.now() / 30_000);
    await fill(p2, "totp-activate-code", totp(secret));
    await $(p2, "totp-activate").click();
    await $(p2, "totp-recovery").waitFor();
    const recovery = (await p2.locator('[data-test="totp-recovery"] li').first().innerText()).trim();
    await shot(p2, "16-security");
    await $(p2, "logout").click();
    await p2.waitForURL(/\/login/);
    await fill(p2, "username", "owner");
    await fill(p2, "password", "demo-owner-pass");
    await $(p2, "login-submit").click();
    await $(p2, "totp-code").waitFor(); // the password alone is not enough now
    assert.match(p2.url(), /\/login/);
    await p2.getByText("使用恢复码").click();
    await fill(p2, "totp-code", recovery);
    await $(p2, "login-submit").click();
    await p2.waitForURL((u) => !u.pathname.endsWith("/login"));
    assert.match(await $(p2, "who").innerText(), /owner/);
    totpSecret = secret;
  });

  await step("two-step verification: a wrong password keeps the session, then the owner turns it off", async () => {
    await p2.goto(demo.baseURL + "/admin/security");
    await $(p2, "totp-on").waitFor();
    // While the shop requires it, the button is disabled with the reason.
    await $(p2, "require-totp").click();
    await $(p2, "totp-disable-required").waitFor();
    assert.ok(await $(p2, "totp-disable").isDisabled());
    await shot(p2, "17-security-disable-required");
    await $(p2, "require-totp").click();
    await $(p2, "totp-disable-required").waitFor({ state: "detached" });
    await $(p2, "totp-disable").click();
    await fill(p2, "totp-disable-password", "wrong-password");
    await fill(p2, "totp-disable-code", totp(totpSecret));
    await $(p2, "totp-disable-confirm").click();
    // The refusal shows in the dialog; the console does not log out.
    const err = $(p2, "totp-disable-error");
    await err.waitFor();
    assert.match(await err.innerText(), /密码错误/);
    await shot(p2, "17-security-disable-wrong-password");
    assert.match(p2.url(), /\/admin\/security$/);
    assert.match(await $(p2, "who").innerText(), /owner/);
    assert.equal(await p2.locator('[data-test="expired"]').count(), 0);
    assert.ok(await p2.evaluate(() => sessionStorage.getItem("minimall.console.session")), "the session is kept");
    // The activation used this time step's code: a code is accepted once,
    // so wait for the app's next one, as a person would.
    await waitFor(async () => Math.floor(Date.now() / 30_000) > activatedStep, "the next code", 35_000);
    await fill(p2, "totp-disable-password", "demo-owner-pass");
    await fill(p2, "totp-disable-code", totp(totpSecret));
    await $(p2, "totp-disable-confirm").click();
    await $(p2, "totp-enrol").waitFor(); // the status shows it off
    assert.equal(await p2.locator('[data-test="totp-on"]').count(), 0);
    await shot(p2, "17-security-off");
    // The password alone logs in again.
    await $(p2, "logout").click();
    await p2.waitForURL(/\/login/);
    await login(p2, "owner", "demo-owner-pass");
    assert.match(await $(p2, "who").innerText(), /owner/);
    assert.deepEqual(p2.problems, []);
    await p2.context().close();
  });

  assert.deepEqual(page.problems, [], "no script errors or CSP violations");
  await page.context().close();
});
