// The wx.request and my.request transports, the storages and the client's
// session rules against recorded fakes: the fakes check what the SDK hands
// the platform API and answer with bodies recorded from a demo server.
import { test } from "node:test";
import assert from "node:assert/strict";
import {
  ApiError,
  Client,
  LoginRequiredError,
  NetworkError,
  PaymentCancelledError,
  memoryStore,
  myStore,
  myTransport,
  payWithWechat,
  wxStore,
  wxTransport,
} from "../dist/index.js";

// Recorded from `minimall serve --demo`.
const recorded = {
  order: '{"id":7,"order_no":"26120310350012345678","status":"pending_payment","items":[],"goods_fen":5900,"freight_fen":1000,"total_fen":6900,"paid_fen":0,"address":{"name":"张三","phone":"13800138000","province":"浙江省","city":"杭州市","district":"西湖区","detail":"文三路 1 号"},"remark":"","pay_deadline":"2026-12-03T11:05:00.000Z","paid_at":null,"shipped_at":null,"completed_at":null,"cancelled_at":null,"created_at":"2026-12-03T10:35:00.123Z"}',
  outOfStock: '{"error":{"code":"out_of_stock","message":"not enough stock","details":{"sku_ids":[3]},"request_id":"3f9a1c"}}',
  expired: '{"error":{"code":"unauthenticated","message":"token expired","request_id":"r-401"}}',
  reused: '{"error":{"code":"refresh_reused","message":"refresh token already used; log in again","request_id":"r-reused"}}',
  session: (n) =>
    JSON.stringify({ access_token: "access-" + n, refresh_token: "refresh-" + n, expires_in: 7200, user: { id: 1, channel: "wechat" } }),
  pay: '{"channel":"wechat","out_trade_no":"P7A1","request_payment":{"timeStamp":"1764758100","nonceStr":"n0nce","package":"prepay_id=wx03103500","signType":"RSA","paySign":"c2ln"}}',
};

test("wx.request: header, JSON text body, text answer parsed, status and headers read", async () => {
  const calls = [];
  const wx = {
    request(o) {
      calls.push(o);
      o.success({ statusCode: 201, header: { "Content-Type": "application/json", "X-Request-Id": "abc" }, data: recorded.order });
    },
  };
  const client = new Client({ baseURL: "https://shop.example.com/", transport: wxTransport(wx), tokens: memoryStore({ accessToken: "a", refreshToken: "r" }) });
  const order = await client.createOrder({ address_id: 1, from_cart: true }, "key-1");
  assert.equal(order.id, 7);
  assert.equal(calls[0].url, "https://shop.example.com/api/v1/orders");
  assert.equal(calls[0].method, "POST");
  assert.equal(calls[0].header["content-type"], "application/json");
  assert.equal(calls[0].header["authorization"], "Bearer a");
  assert.equal(calls[0].header["idempotency-key"], "key-1");
  assert.equal(calls[0].data, '{"address_id":1,"from_cart":true}');
  assert.notEqual(calls[0].dataType, "json", "wx must not parse (empty 204 bodies)");
  assert.equal("headers" in calls[0], false);
});

test("wx.request: an error answer becomes ApiError; no answer becomes NetworkError", async () => {
  let answer;
  const wx = { request: (o) => answer(o) };
  const client = new Client({ baseURL: "https://shop.example.com", transport: wxTransport(wx), tokens: memoryStore({ accessToken: "a", refreshToken: "r" }) });
  answer = (o) => o.success({ statusCode: 409, header: { "X-Request-Id": "3f9a1c" }, data: recorded.outOfStock });
  await assert.rejects(client.createOrder({ address_id: 1, from_cart: true }, "k"), (e) => {
    assert.ok(e instanceof ApiError);
    assert.deepEqual([e.status, e.code, e.message, e.requestId], [409, "out_of_stock", "not enough stock", "3f9a1c"]);
    assert.deepEqual(e.details, { sku_ids: [3] });
    return true;
  });
  answer = (o) => o.fail({ errMsg: "request:fail timeout" });
  await assert.rejects(client.order(7), NetworkError);
  answer = (o) => o.success({ statusCode: 204, header: {}, data: "" });
  assert.equal(await client.deleteAddress(1), undefined);
});

test("my.request: headers, JSON content type, status; an HTTP error through fail (error 19) is still an answer", async () => {
  const calls = [];
  let answer;
  const my = {
    request(o) {
      calls.push(o);
      answer(o);
    },
  };
  const client = new Client({ baseURL: "https://shop.example.com", transport: myTransport(my), tokens: memoryStore({ accessToken: "a", refreshToken: "r" }) });
  answer = (o) => o.success({ status: 200, headers: { "content-type": "application/json" }, data: recorded.order });
  const order = await client.order(7);
  assert.equal(order.created_at, "2026-12-03T10:35:00.123Z");
  assert.equal(calls[0].headers["authorization"], "Bearer a");
  assert.equal("header" in calls[0], false, "Alipay reads headers, not header");
  assert.equal(calls[0].dataType, "text");

  answer = (o) => o.fail({ error: 19, errorMessage: "http status error", status: 409, headers: { "X-Request-Id": "3f9a1c" }, data: recorded.outOfStock });
  await assert.rejects(client.previewOrder({ from_cart: true }), (e) => e instanceof ApiError && e.code === "out_of_stock" && e.requestId === "3f9a1c");
  assert.equal(calls.at(-1).headers["content-type"], "application/json", "my.request defaults to a form body");
  answer = (o) => o.fail({ error: 12, errorMessage: "network error" });
  await assert.rejects(client.order(7), NetworkError);
});

test("concurrent 401s wait for one refresh; refresh_reused ends the session", async () => {
  let refreshes = 0;
  let release;
  const gate = new Promise((r) => (release = r));
  const transport = async (req) => {
    if (req.url.endsWith("/auth/refresh")) {
      refreshes++;
      await gate;
      if (JSON.parse(req.body).refresh_token === "refresh-1") return { status: 200, headers: {}, data: JSON.parse(recorded.session(2)) };
      return { status: 401, headers: {}, data: JSON.parse(recorded.reused) };
    }
    if (req.headers.authorization === "Bearer access-2") return { status: 200, headers: {}, data: JSON.parse(recorded.order) };
    return { status: 401, headers: {}, data: JSON.parse(recorded.expired) };
  };
  const tokens = memoryStore({ accessToken: "access-1", refreshToken: "refresh-1" });
  let told = 0;
  const client = new Client({ baseURL: "https://x", transport, tokens, onLoginRequired: () => told++ });
  const pending = [client.order(7), client.order(7), client.orders(), client.me()];
  setTimeout(release, 10);
  await Promise.all(pending);
  assert.equal(refreshes, 1);
  assert.deepEqual(tokens.get(), { accessToken: "access-2", refreshToken: "refresh-2" });

  tokens.set({ accessToken: "access-1", refreshToken: "refresh-1-used" });
  await assert.rejects(client.order(7), (e) => e instanceof LoginRequiredError && e.code === "refresh_reused");
  assert.equal(tokens.get(), undefined);
  assert.equal(told, 1);
  await assert.rejects(client.order(7), LoginRequiredError, "no session: login required without a request");
});

test("a checkout attempt reuses its Idempotency-Key on every retry", async () => {
  const keys = [];
  let fail = true;
  const transport = async (req) => {
    keys.push(req.headers["idempotency-key"]);
    if (fail) {
      fail = false;
      throw new NetworkError("timeout");
    }
    return { status: 201, headers: {}, data: JSON.parse(recorded.order) };
  };
  const client = new Client({ baseURL: "https://x", transport, tokens: memoryStore({ accessToken: "a", refreshToken: "r" }) });
  const attempt = client.checkout({ address_id: 1, from_cart: true });
  await assert.rejects(attempt.submit(), NetworkError);
  await attempt.submit();
  const other = client.checkout({ address_id: 1, from_cart: true });
  await other.submit();
  assert.equal(keys[0], attempt.idempotencyKey);
  assert.equal(keys[1], keys[0]);
  assert.notEqual(keys[2], keys[0], "a new attempt gets a new key");
});

test("wx.requestPayment gets the server's parameters; a cancel is PaymentCancelledError", async () => {
  const transport = async (req) => ({ status: 200, headers: {}, data: JSON.parse(req.url.endsWith("/pay") ? recorded.pay : recorded.order) });
  const client = new Client({ baseURL: "https://x", transport, tokens: memoryStore({ accessToken: "a", refreshToken: "r" }) });
  let got;
  const wx = { requestPayment: (o) => ((got = o), o.fail({ errMsg: "requestPayment:fail cancel" })) };
  await assert.rejects(payWithWechat(client, wx, 7), PaymentCancelledError);
  assert.deepEqual(
    { timeStamp: got.timeStamp, nonceStr: got.nonceStr, package: got.package, signType: got.signType, paySign: got.paySign },
    { timeStamp: "1764758100", nonceStr: "n0nce", package: "prepay_id=wx03103500", signType: "RSA", paySign: "c2ln" },
  );
});

test("storages: wx takes a key, my takes objects", () => {
  const wxData = {};
  const wx = { getStorageSync: (k) => wxData[k] ?? "", setStorageSync: (k, v) => (wxData[k] = v), removeStorageSync: (k) => delete wxData[k] };
  const s1 = wxStore(wx);
  assert.equal(s1.get(), undefined);
  s1.set({ accessToken: "a", refreshToken: "r" });
  assert.deepEqual(s1.get(), { accessToken: "a", refreshToken: "r" });
  s1.clear();
  assert.equal(s1.get(), undefined);

  const myData = {};
  const my = {
    getStorageSync: ({ key }) => ({ data: myData[key] ?? null }),
    setStorageSync: ({ key, data }) => (myData[key] = data),
    removeStorageSync: ({ key }) => delete myData[key],
  };
  const s2 = myStore(my);
  assert.equal(s2.get(), undefined);
  s2.set({ accessToken: "a", refreshToken: "r" });
  assert.deepEqual(s2.get(), { accessToken: "a", refreshToken: "r" });
});
