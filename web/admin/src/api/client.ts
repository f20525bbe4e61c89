// The typed client of the staff API. Paths, parameters and bodies come from
// schema.ts, which `npm run generate` writes from docs/openapi.yaml before
// every build: a route or field the console uses that changes in the
// document breaks vue-tsc, and so the build.
import createClient from "openapi-fetch";
import type { components, paths } from "./schema";

export type Schemas = components["schemas"];

/** ApiError is the error envelope of an answer, with its request id. */
export class ApiError extends Error {
  constructor(
    public status: number,
    public code: string,
    message: string,
    public requestId: string,
    public details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

export const api = createClient<paths>({ baseUrl: typeof location === "undefined" ? "" : location.origin });

let token: () => string | null = () => null;
let expired: () => void = () => {};

/** connectSession gives the client the token and what to do when it stops working. */
export function connectSession(getToken: () => string | null, onExpired: () => void) {
  token = getToken;
  expired = onExpired;
}

api.use({
  onRequest({ request }) {
    const t = token();
    if (t) request.headers.set("Authorization", `Bearer ${t}`);
    return request;
  },
  onResponse({ request, response }) {
    // Any 401 on a staff route but the login itself means the session ended
    // (expired, revoked by a password change, account disabled).
    if (response.status === 401 && !request.url.endsWith("/api/v1/admin/auth/login") && token()) expired();
    return response;
  },
});

type Result<T> = { data?: T; error?: unknown; response: Response };

/** unwrap answers the data of a call or throws its envelope as an ApiError. */
export async function unwrap<T>(call: Promise<Result<T>>): Promise<T> {
  let r: Result<T>;
  try {
    r = await call;
  } catch (e) {
    throw new ApiError(0, "network", e instanceof Error ? e.message : String(e), "");
  }
  if (!r.response.ok) {
    const env = (r.error ?? {}) as { error?: { code?: string; message?: string; request_id?: string; details?: Record<string, unknown> } };
    throw new ApiError(
      r.response.status,
      env.error?.code ?? "internal",
      env.error?.message ?? r.response.statusText,
      env.error?.request_id ?? r.response.headers.get("X-Request-Id") ?? "",
      env.error?.details,
    );
  }
  return r.data as T;
}
