import type { Client, Order, Session } from "./client.js";

/** The part of `wx` the login and payment helpers use. */
export interface WxApi {
  login(opts: { success(res: { code: string }): void; fail(err: { errMsg: string }): void }): unknown;
  requestPayment(opts: {
    timeStamp: string;
    nonceStr: string;
    package: string;
    signType: string;
    paySign: string;
    success(res: unknown): void;
    fail(err: { errMsg: string }): void;
  }): unknown;
}

/** The part of `my` the login and payment helpers use. */
export interface MyApi {
  getAuthCode(opts: {
    scopes: string | string[];
    success(res: { authCode: string }): void;
    fail(err: unknown): void;
  }): unknown;
  tradePay(opts: { tradeNO: string; success(res: { resultCode: string }): void; fail(err: unknown): void }): unknown;
}

/** PaymentCancelledError: the user closed the payment sheet; the order stays unpaid. */
export class PaymentCancelledError extends Error {
  constructor(readonly detail?: unknown) {
    super("payment cancelled");
    this.name = "PaymentCancelledError";
  }
}

/** PaymentFailedError: the platform's payment sheet reported a failure. */
export class PaymentFailedError extends Error {
  constructor(message: string, readonly detail?: unknown) {
    super(message);
    this.name = "PaymentFailedError";
  }
}

/** loginWithWechat gets a code from wx.login and logs in with it. */
export function loginWithWechat(client: Client, wx: WxApi): Promise<Session> {
  return new Promise<string>((resolve, reject) =>
    wx.login({ success: (r) => resolve(r.code), fail: (e) => reject(new Error("wx.login failed: " + e.errMsg)) }),
  ).then((code) => client.loginWechat(code));
}

/** loginWithAlipay gets a code from my.getAuthCode (silent auth_base) and logs in with it. */
export function loginWithAlipay(client: Client, my: MyApi): Promise<Session> {
  return new Promise<string>((resolve, reject) =>
    my.getAuthCode({
      scopes: "auth_base",
      success: (r) => resolve(r.authCode),
      fail: (e) => reject(new Error("my.getAuthCode failed: " + JSON.stringify(e))),
    }),
  ).then((code) => client.loginAlipay(code));
}

export interface PayOptions {
  /** How often and how long to poll the order after the sheet closes. */
  intervalMs?: number;
  timeoutMs?: number;
}

/**
 * payWithWechat asks the server for the wx.requestPayment parameters, shows
 * the payment sheet and then polls the order until the server has seen the
 * payment. It resolves with the order (normally paid; still pending_payment
 * when the notification is late) and rejects with PaymentCancelledError when
 * the user cancels.
 */
export async function payWithWechat(client: Client, wx: WxApi, orderId: number, opts: PayOptions = {}): Promise<Order> {
  const ans = await client.pay(orderId, "wechat");
  const p = ans.request_payment;
  if (!p) throw new PaymentFailedError("the server sent no request_payment");
  await new Promise<void>((resolve, reject) =>
    wx.requestPayment({
      timeStamp: p.timeStamp,
      nonceStr: p.nonceStr,
      package: p.package,
      signType: p.signType,
      paySign: p.paySign,
      success: () => resolve(),
      fail: (e) =>
        reject(/cancel/.test(e && e.errMsg) ? new PaymentCancelledError(e) : new PaymentFailedError("wx.requestPayment: " + e.errMsg, e)),
    }),
  );
  return client.waitUntilPaid(orderId, opts);
}

/**
 * payWithAlipay asks the server for the trade_no, shows my.tradePay and then
 * polls the order. resultCode 9000 is paid, 6001 cancelled; 8000 and 6004
 * (result unknown) still poll, since the server learns the outcome from
 * Alipay itself.
 */
export async function payWithAlipay(client: Client, my: MyApi, orderId: number, opts: PayOptions = {}): Promise<Order> {
  const ans = await client.pay(orderId, "alipay");
  if (!ans.trade_no) throw new PaymentFailedError("the server sent no trade_no");
  const code = await new Promise<string>((resolve, reject) =>
    my.tradePay({
      tradeNO: ans.trade_no!,
      success: (r) => resolve(String(r.resultCode)),
      fail: (e) => reject(new PaymentFailedError("my.tradePay failed", e)),
    }),
  );
  if (code === "6001") throw new PaymentCancelledError(code);
  if (code !== "9000" && code !== "8000" && code !== "6004") throw new PaymentFailedError("my.tradePay resultCode " + code, code);
  return client.waitUntilPaid(orderId, opts);
}
