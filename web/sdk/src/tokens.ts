/** The tokens of a customer session. */
export interface Tokens {
  accessToken: string;
  refreshToken: string;
}

/** Where the client keeps the session between launches. */
export interface TokenStore {
  get(): Tokens | undefined;
  set(tokens: Tokens): void;
  clear(): void;
}

/** memoryStore keeps the session for the life of the process (tests, web). */
export function memoryStore(initial?: Tokens): TokenStore {
  let t = initial;
  return { get: () => t, set: (v) => (t = v), clear: () => (t = undefined) };
}

const key = "minimall.session";

/** wxStore keeps the session in WeChat's local storage (wx.*StorageSync). */
export function wxStore(wx: {
  getStorageSync(key: string): unknown;
  setStorageSync(key: string, data: unknown): void;
  removeStorageSync(key: string): void;
}): TokenStore {
  return {
    get: () => (wx.getStorageSync(key) as Tokens) || undefined,
    set: (t) => wx.setStorageSync(key, t),
    clear: () => wx.removeStorageSync(key),
  };
}

/** myStore keeps the session in Alipay's local storage (my.*StorageSync take objects). */
export function myStore(my: {
  getStorageSync(o: { key: string }): { data?: unknown };
  setStorageSync(o: { key: string; data: unknown }): void;
  removeStorageSync(o: { key: string }): void;
}): TokenStore {
  return {
    get: () => (my.getStorageSync({ key }).data as Tokens) || undefined,
    set: (t) => my.setStorageSync({ key, data: t }),
    clear: () => my.removeStorageSync({ key }),
  };
}
