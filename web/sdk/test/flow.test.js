// The customer flow against a real demo server with the fetch transport:
// login (through the wx/my helpers, whose platform side is the sandbox),
// order, pay through the sandbox's control route, and see the order paid.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import {
  ApiError,
  Client,
  LoginRequiredError,
  fetchTransport,
  loginWithAlipay,
  loginWithWechat,
  memoryStore,
  payWithAlipay,
  payWithWechat,
} from "../dist/index.js";
import { startDemo } from "./server.js";

let demo;
before(async () => {
  demo = await startDemo();
});
after(async () => {
  await demo?.stop();
});

// sandboxPay is what the user's tap in the payment sheet does in demo mode.
async function sandboxPay(route, body) {
  const r = await fetch(demo.sandboxURL + route, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, `${route}: ${await r.text()}`);
}

const address = {
  name: "张三",
  phone: "13800138000",
  province: "浙江省",
  city: "杭州市",
  district: "西湖区",
  detail: "文三路 1 号",
  is_default: true,
};

async function firstSku(client) {
  const list = await client.products({ page_size: 5 });
  assert.ok(list.items.length > 0, "demo products");
  const product = await client.product(list.items[0].id);
  return product.skus[0].id;
}

test("WeChat: login, order (idempotent retry), pay, paid", async () => {
  const client = new Client({ baseURL: demo.baseURL, transport: fetchTransport() });
  const wx = {
    login: ({ success }) => success({ code: "test-sdk-wx" }),
    requestPayment: (p) => {
      assert.equal(typeof p.timeStamp, "string");
      sandboxPay("/_sandbox/wechatpay/pay", { prepay_id: p.package.replace("prepay_id=", "") }).then(
        () => p.success({ errMsg: "requestPayment:ok" }),
        (e) => p.fail({ errMsg: String(e) }),
      );
    },
  };
  const session = await loginWithWechat(client, wx);
  assert.equal(session.user.channel, "wechat");
  const me = await client.me();
  assert.equal(me.id, session.user.id);
  const renamed = await client.updateMe({ nickname: "小程序用户" });
  assert.equal(renamed.nickname, "小程序用户");
  await assert.rejects(
    client.updateMe({ avatar_url: "https://elsewhere.example.com/a.jpg" }),
    (e) => e instanceof ApiError && e.code === "invalid_argument",
  );

  const sku = await firstSku(client);
  const addr = await client.createAddress(address);
  const attempt = client.checkout({ address_id: addr.id, items: [{ sku_id: sku, quantity: 1 }] });
  const order = await attempt.submit();
  assert.equal(order.status, "pending_payment");
  const again = await attempt.submit(); // a retry with the same key
  assert.equal(again.id, order.id, "a retried checkout answers the first order");

  const paid = await payWithWechat(client, wx, order.id, { intervalMs: 100, timeoutMs: 20000 });
  assert.equal(paid.status, "paid", demo.log());
  assert.equal(paid.paid_fen, paid.total_fen);
});

test("Alipay: login, order, pay, paid", async () => {
  const client = new Client({ baseURL: demo.baseURL, transport: fetchTransport() });
  const my = {
    getAuthCode: ({ scopes, success }) => {
      assert.equal(scopes, "auth_base");
      success({ authCode: "test-sdk-my" });
    },
    tradePay: ({ tradeNO, success, fail }) =>
      sandboxPay("/_sandbox/alipay/pay", { trade_no: tradeNO }).then(() => success({ resultCode: "9000" }), fail),
  };
  const session = await loginWithAlipay(client, my);
  assert.equal(session.user.channel, "alipay");
  const sku = await firstSku(client);
  const addr = await client.createAddress(address);
  const order = await client.checkout({ address_id: addr.id, items: [{ sku_id: sku, quantity: 1 }] }).submit();
  const paid = await payWithAlipay(client, my, order.id, { intervalMs: 100, timeoutMs: 20000 });
  assert.equal(paid.status, "paid", demo.log());
});

test("an expired access token is refreshed once for concurrent calls; a reused refresh token ends the session", async () => {
  let refreshes = 0;
  const base = fetchTransport();
  const transport = (req) => {
    if (req.url.endsWith("/api/v1/auth/refresh")) refreshes++;
    return base(req);
  };
  let loginRequired = 0;
  const tokens = memoryStore();
  const client = new Client({ baseURL: demo.baseURL, transport, tokens, onLoginRequired: () => loginRequired++ });
  await client.loginWechat("test-sdk-refresh");
  const stale = tokens.get();
  tokens.set({ ...stale, accessToken: "expired.or.forged" });
  const profiles = await Promise.all([client.me(), client.me(), client.cart(), client.orders()]);
  assert.equal(refreshes, 1, "one refresh for four 401s");
  assert.ok(profiles[0].id > 0);
  assert.notEqual(tokens.get().refreshToken, stale.refreshToken);

  // The old refresh token presented again: the server revokes the family.
  tokens.set({ ...stale, accessToken: "expired.or.forged" });
  await assert.rejects(client.me(), (e) => e instanceof LoginRequiredError && e.code === "refresh_reused");
  assert.equal(loginRequired, 1);
  assert.equal(tokens.get(), undefined);
});

test("errors carry the envelope and the request id", async () => {
  const client = new Client({ baseURL: demo.baseURL, transport: fetchTransport() });
  await client.loginWechat("test-sdk-errors");
  await assert.rejects(client.order(999999999), (e) => {
    assert.ok(e instanceof ApiError);
    assert.equal(e.status, 404);
    assert.equal(e.code, "not_found");
    assert.ok(e.requestId && e.requestId.length > 0, "request id");
    return true;
  });
  await assert.rejects(client.loginWechat("bad-code"), (e) => e instanceof ApiError && e.code === "invalid_code");
});
