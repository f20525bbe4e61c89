/** The error envelope's `code`: the stable, machine-readable reason. */
export type ErrorCode = NonNullable<import("./schema.js").components["schemas"]["Error"]["error"]["code"]> | string;

/**
 * ApiError is every error answer of the API: the HTTP status and the
 * envelope's code, message, details and request id (quote it to support).
 */
export class ApiError extends Error {
  readonly status: number;
  readonly code: ErrorCode;
  readonly details?: Record<string, unknown>;
  readonly requestId?: string;

  constructor(status: number, code: ErrorCode, message: string, details?: Record<string, unknown>, requestId?: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
    this.details = details;
    this.requestId = requestId;
  }

  /** fromResponse reads the envelope, or makes one for a body that is not. */
  static fromResponse(status: number, data: unknown, requestId?: string): ApiError {
    const env = (data && typeof data === "object" ? (data as { error?: unknown }).error : undefined) as
      | { code?: string; message?: string; details?: Record<string, unknown>; request_id?: string }
      | undefined;
    if (env && typeof env.code === "string") {
      return new ApiError(status, env.code, env.message ?? env.code, env.details, env.request_id ?? requestId);
    }
    return new ApiError(status, status >= 500 ? "internal" : "http_" + status, "HTTP " + status, undefined, requestId);
  }
}

/**
 * LoginRequiredError: the session is gone (no tokens, or the refresh token
 * was refused or reused). Send the user through wx.login / my.getAuthCode.
 */
export class LoginRequiredError extends ApiError {
  constructor(cause?: ApiError) {
    super(cause?.status ?? 401, cause?.code ?? "unauthenticated", "login required", cause?.details, cause?.requestId);
    this.name = "LoginRequiredError";
  }
}

/** NetworkError: the request never got an HTTP answer (offline, timeout, DNS). */
export class NetworkError extends Error {
  constructor(message: string, readonly cause?: unknown) {
    super(message);
    this.name = "NetworkError";
  }
}
