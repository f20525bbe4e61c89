import type { components, paths } from "./schema.js";
import { ApiError, LoginRequiredError } from "./errors.js";
import type { Transport, TransportRequest } from "./transport.js";
import { memoryStore, type TokenStore } from "./tokens.js";

// Every mini-program runtime, browser and Node has a global setTimeout.
declare function setTimeout(cb: () => void, ms: number): unknown;

export type Schemas = components["schemas"];
type Method = TransportRequest["method"];

/** The JSON answer of an operation (its 200 or 201), from the generated types. */
type Answer<O> = O extends { responses: infer R }
  ? R extends { 200: { content: { "application/json": infer T } } }
    ? T
    : R extends { 201: { content: { "application/json": infer T } } }
      ? T
      : void
  : never;
/** The JSON body of an operation. */
type Body<O> = O extends { requestBody?: { content: { "application/json": infer B } } } ? B : never;
/** The query of an operation. */
type Query<O> = O extends { parameters: { query?: infer Q } } ? NonNullable<Q> : never;

export type Session = Answer<paths["/api/v1/auth/refresh"]["post"]>;
export type Profile = Answer<paths["/api/v1/me"]["get"]>;
export type Category = Schemas["Category"];
export type ProductList = Schemas["ProductList"];
export type Product = Schemas["Product"];
export type Cart = Schemas["Cart"];
export type CartLine = Schemas["CartLine"];
export type Address = Schemas["Address"];
export type AddressRequest = Schemas["AddressRequest"];
export type CheckoutRequest = Schemas["CheckoutRequest"];
export type Preview = Answer<paths["/api/v1/orders/preview"]["post"]>;
export type Order = Schemas["Order"];
export type OrderList = Schemas["OrderList"];
export type PayAnswer = Answer<paths["/api/v1/orders/{id}/pay"]["post"]>;
export type ProductQuery = Query<paths["/api/v1/products"]["get"]>;
export type OrderQuery = Query<paths["/api/v1/orders"]["get"]>;

export interface ClientOptions {
  /** Scheme and host of the API, e.g. https://shop.example.com (no trailing /api/v1). */
  baseURL: string;
  transport: Transport;
  /** Where the session lives; memoryStore() by default. */
  tokens?: TokenStore;
  /** Called once when the session is gone and the user must log in again. */
  onLoginRequired?: (err: LoginRequiredError) => void;
}

interface RequestOptions {
  body?: unknown;
  query?: Record<string, string | number | boolean | undefined>;
  /** Send the customer token (and refresh it once on a 401). */
  auth?: boolean;
  headers?: Record<string, string>;
}

/** newIdempotencyKey makes a random key (crypto.randomUUID where there is one). */
export function newIdempotencyKey(): string {
  const c = (globalThis as { crypto?: { randomUUID?: () => string } }).crypto;
  if (c && typeof c.randomUUID === "function") return c.randomUUID();
  let s = Date.now().toString(36) + "-";
  for (let i = 0; i < 24; i++) s += Math.floor(Math.random() * 36).toString(36);
  return s;
}

/**
 * Client is the customer API of minimall. It keeps the session in its token
 * store, refreshes an expired access token once for all the requests that
 * found it expired (the API revokes a refresh token presented twice, so
 * refreshes must never race), and turns every error answer into ApiError.
 */
export class Client {
  private readonly base: string;
  private readonly transport: Transport;
  readonly tokens: TokenStore;
  private readonly onLoginRequired?: (err: LoginRequiredError) => void;
  private refreshing?: Promise<void>;

  constructor(opts: ClientOptions) {
    if (!opts || !opts.baseURL || !opts.transport) throw new Error("minimall: baseURL and transport are required");
    this.base = opts.baseURL.replace(/\/+$/, "");
    this.transport = opts.transport;
    this.tokens = opts.tokens ?? memoryStore();
    this.onLoginRequired = opts.onLoginRequired;
  }

  /** request is the escape hatch for any route: JSON in, JSON out, ApiError on failure. */
  async request<T>(method: Method, path: string, opts: RequestOptions = {}): Promise<T> {
    const used = opts.auth ? this.tokens.get() : undefined;
    if (opts.auth && !used) throw this.loginRequired();
    let res = await this.send(method, path, opts, used?.accessToken);
    if (opts.auth && res.status === 401) {
      const now = this.tokens.get();
      if (!now) throw this.loginRequired(ApiError.fromResponse(res.status, res.data, res.headers["x-request-id"]));
      if (now.accessToken === used!.accessToken) {
        await this.refresh();
      }
      res = await this.send(method, path, opts, this.tokens.get()?.accessToken);
    }
    if (res.status >= 400) {
      const err = ApiError.fromResponse(res.status, res.data, res.headers["x-request-id"]);
      if (opts.auth && res.status === 401) throw this.loginRequired(err);
      throw err;
    }
    return res.data as T;
  }

  private send(method: Method, path: string, opts: RequestOptions, token?: string) {
    const headers: Record<string, string> = { accept: "application/json", ...(opts.headers ?? {}) };
    let body: string | undefined;
    if (opts.body !== undefined) {
      headers["content-type"] = "application/json";
      body = JSON.stringify(opts.body);
    }
    if (token) headers["authorization"] = "Bearer " + token;
    let url = this.base + path;
    const q = Object.entries(opts.query ?? {}).filter(([, v]) => v !== undefined && v !== "");
    if (q.length) url += "?" + q.map(([k, v]) => encodeURIComponent(k) + "=" + encodeURIComponent(String(v))).join("&");
    return this.transport({ method, url, headers, body });
  }

  /**
   * refresh rotates the session once, however many callers ask at the same
   * time: they all wait for the one request. A refused refresh
   * (refresh_reused, expired, revoked) ends the session.
   */
  refresh(): Promise<void> {
    if (!this.refreshing) {
      this.refreshing = (async () => {
        const t = this.tokens.get();
        if (!t) throw this.loginRequired();
        const res = await this.send("POST", "/api/v1/auth/refresh", { body: { refresh_token: t.refreshToken } });
        if (res.status >= 400) {
          const err = ApiError.fromResponse(res.status, res.data, res.headers["x-request-id"]);
          if (res.status === 401) throw this.loginRequired(err);
          throw err;
        }
        this.keep(res.data as Session);
      })().finally(() => {
        this.refreshing = undefined;
      });
    }
    return this.refreshing;
  }

  private loginRequired(cause?: ApiError): LoginRequiredError {
    this.tokens.clear();
    const err = new LoginRequiredError(cause);
    this.onLoginRequired?.(err);
    return err;
  }

  private keep(s: Session): Session {
    this.tokens.set({ accessToken: s.access_token, refreshToken: s.refresh_token });
    return s;
  }

  /** loginWechat exchanges a wx.login code for a session and keeps it. */
  async loginWechat(code: string): Promise<Session> {
    return this.keep(await this.request<Session>("POST", "/api/v1/auth/wechat/login", { body: { code } }));
  }

  /** loginAlipay exchanges a my.getAuthCode code for a session and keeps it. */
  async loginAlipay(code: string): Promise<Session> {
    return this.keep(await this.request<Session>("POST", "/api/v1/auth/alipay/login", { body: { code } }));
  }

  /** logout forgets the session on this device. */
  logout(): void {
    this.tokens.clear();
  }

  me(): Promise<Profile> {
    return this.request("GET", "/api/v1/me", { auth: true });
  }

  /** updateMe sets the nickname and/or avatar (an upload of this shop) the user chose. */
  updateMe(body: Body<paths["/api/v1/me"]["patch"]>): Promise<Profile> {
    return this.request("PATCH", "/api/v1/me", { auth: true, body });
  }

  categories(): Promise<Category[]> {
    return this.request("GET", "/api/v1/categories");
  }

  products(query: ProductQuery = {}): Promise<ProductList> {
    return this.request("GET", "/api/v1/products", { query: query as RequestOptions["query"] });
  }

  product(id: number): Promise<Product> {
    return this.request("GET", "/api/v1/products/" + id);
  }

  cart(): Promise<Cart> {
    return this.request("GET", "/api/v1/cart", { auth: true });
  }

  addToCart(body: Body<paths["/api/v1/cart/items"]["post"]>): Promise<CartLine> {
    return this.request("POST", "/api/v1/cart/items", { auth: true, body });
  }

  updateCartLine(id: number, body: Body<paths["/api/v1/cart/items/{id}"]["patch"]>): Promise<CartLine> {
    return this.request("PATCH", "/api/v1/cart/items/" + id, { auth: true, body });
  }

  removeCartLine(id: number): Promise<void> {
    return this.request("DELETE", "/api/v1/cart/items/" + id, { auth: true });
  }

  addresses(): Promise<Address[]> {
    return this.request("GET", "/api/v1/addresses", { auth: true });
  }

  createAddress(body: AddressRequest): Promise<Address> {
    return this.request("POST", "/api/v1/addresses", { auth: true, body });
  }

  updateAddress(id: number, body: AddressRequest): Promise<Address> {
    return this.request("PUT", "/api/v1/addresses/" + id, { auth: true, body });
  }

  deleteAddress(id: number): Promise<void> {
    return this.request("DELETE", "/api/v1/addresses/" + id, { auth: true });
  }

  previewOrder(body: CheckoutRequest): Promise<Preview> {
    return this.request("POST", "/api/v1/orders/preview", { auth: true, body });
  }

  /**
   * createOrder places an order under an Idempotency-Key: sending the same
   * key again (a retry after a timeout) answers the first order instead of
   * placing a second one. Prefer checkout(), which keeps the key for you.
   */
  createOrder(body: CheckoutRequest, idempotencyKey: string): Promise<Order> {
    return this.request("POST", "/api/v1/orders", { auth: true, body, headers: { "idempotency-key": idempotencyKey } });
  }

  /**
   * checkout starts one checkout attempt: its key is made now and reused by
   * every submit(), so retrying after a network error or a 5xx can never
   * place the order twice. Start a new checkout when the cart changes.
   */
  checkout(body: CheckoutRequest): { idempotencyKey: string; submit(): Promise<Order> } {
    const idempotencyKey = newIdempotencyKey();
    return { idempotencyKey, submit: () => this.createOrder(body, idempotencyKey) };
  }

  orders(query: OrderQuery = {}): Promise<OrderList> {
    return this.request("GET", "/api/v1/orders", { auth: true, query: query as RequestOptions["query"] });
  }

  order(id: number): Promise<Order> {
    return this.request("GET", "/api/v1/orders/" + id, { auth: true });
  }

  cancelOrder(id: number): Promise<Order> {
    return this.request("POST", "/api/v1/orders/" + id + "/cancel", { auth: true });
  }

  confirmOrder(id: number): Promise<Order> {
    return this.request("POST", "/api/v1/orders/" + id + "/confirm", { auth: true });
  }

  /** pay opens a payment attempt on the channel the customer logged in with. */
  pay(id: number, channel: "wechat" | "alipay"): Promise<PayAnswer> {
    return this.request("POST", "/api/v1/orders/" + id + "/pay", { auth: true, body: { channel } });
  }

  /**
   * waitUntilPaid polls the order until the platform's notification (or the
   * server's own query) has made it paid. Only the server decides that an
   * order is paid; the mini-program's payment callback is never proof.
   */
  async waitUntilPaid(id: number, opts: { intervalMs?: number; timeoutMs?: number } = {}): Promise<Order> {
    const interval = opts.intervalMs ?? 1000;
    const deadline = Date.now() + (opts.timeoutMs ?? 30000);
    for (;;) {
      const o = await this.order(id);
      if (o.status !== "pending_payment") return o;
      if (Date.now() + interval > deadline) return o;
      await new Promise<void>((r) => setTimeout(() => r(), interval));
    }
  }
}
