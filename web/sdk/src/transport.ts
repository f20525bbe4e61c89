import { NetworkError } from "./errors.js";

/** A request as the client hands it to a transport. */
export interface TransportRequest {
  method: "GET" | "POST" | "PUT" | "PATCH" | "DELETE";
  url: string;
  headers: Record<string, string>;
  /** The JSON text of the body, if any. */
  body?: string;
}

/** An HTTP answer; data is the parsed JSON body, or undefined when empty. */
export interface TransportResponse {
  status: number;
  headers: Record<string, string>;
  data: unknown;
}

/** A transport sends one request; it rejects only when there is no HTTP answer. */
export type Transport = (req: TransportRequest) => Promise<TransportResponse>;

function lowerKeys(h: Record<string, unknown> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(h ?? {})) out[k.toLowerCase()] = String((h as Record<string, unknown>)[k]);
  return out;
}

function parseBody(text: unknown): unknown {
  if (typeof text !== "string") return text === null ? undefined : text;
  if (text === "") return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/** The subset of fetch the SDK uses (browsers, Node 18+, tests). */
export type FetchLike = (
  url: string,
  init: { method: string; headers: Record<string, string>; body?: string },
) => Promise<{ status: number; headers: { forEach(cb: (value: string, key: string) => void): void }; text(): Promise<string> }>;

/** fetchTransport sends requests with fetch (the global one by default). */
export function fetchTransport(fetchImpl?: FetchLike): Transport {
  const f = fetchImpl ?? ((globalThis as unknown as { fetch: FetchLike }).fetch);
  return async (req) => {
    let res;
    try {
      res = await f(req.url, { method: req.method, headers: req.headers, body: req.body });
    } catch (e) {
      throw new NetworkError("request failed: " + String(e), e);
    }
    const headers: Record<string, string> = {};
    res.headers.forEach((v, k) => (headers[k.toLowerCase()] = v));
    return { status: res.status, headers, data: parseBody(await res.text()) };
  };
}

/** The part of WeChat's `wx` the SDK uses. */
export interface WxRequestApi {
  request(opts: {
    url: string;
    method: string;
    header: Record<string, string>;
    data?: string;
    dataType: "text";
    responseType: "text";
    success(res: { statusCode: number; header: Record<string, unknown>; data: unknown }): void;
    fail(err: { errMsg: string }): void;
  }): unknown;
}

/**
 * wxTransport sends requests with wx.request. The body is sent as JSON text
 * and the answer is read as text (any dataType but "json") and parsed here, so an
 * empty 204 body or a non-JSON error page does not make wx fail.
 */
export function wxTransport(wx: WxRequestApi): Transport {
  return (req) =>
    new Promise((resolve, reject) => {
      wx.request({
        url: req.url,
        method: req.method,
        header: req.headers,
        data: req.body,
        dataType: "text",
        responseType: "text",
        success: (res) => resolve({ status: res.statusCode, headers: lowerKeys(res.header), data: parseBody(res.data) }),
        fail: (err) => reject(new NetworkError("wx.request failed: " + (err && err.errMsg), err)),
      });
    });
}

/** The part of Alipay's `my` the SDK uses. */
export interface MyRequestApi {
  request(opts: {
    url: string;
    method: string;
    headers: Record<string, string>;
    data?: string;
    dataType: "text";
    success(res: { status?: number; statusCode?: number; headers?: Record<string, unknown>; data: unknown }): void;
    fail(err: { error?: number; errorMessage?: string; status?: number; headers?: Record<string, unknown>; data?: unknown }): void;
  }): unknown;
}

/**
 * myTransport sends requests with my.request. Alipay differs from WeChat:
 * `headers` (not `header`), the answer's `status` and `headers`, a default
 * Content-Type of application/x-www-form-urlencoded (so the JSON one is
 * always set), and an HTTP error status reported through `fail` (error 19)
 * with the answer attached, which is turned back into a response here.
 */
export function myTransport(my: MyRequestApi): Transport {
  return (req) =>
    new Promise((resolve, reject) => {
      my.request({
        url: req.url,
        method: req.method,
        headers: req.headers,
        data: req.body,
        dataType: "text",
        success: (res) =>
          resolve({ status: res.status ?? res.statusCode ?? 0, headers: lowerKeys(res.headers), data: parseBody(res.data) }),
        fail: (err) => {
          if (err && typeof err.status === "number" && err.status > 0) {
            resolve({ status: err.status, headers: lowerKeys(err.headers), data: parseBody(err.data) });
            return;
          }
          reject(new NetworkError("my.request failed: " + (err && (err.errorMessage ?? err.error)), err));
        },
      });
    });
}
