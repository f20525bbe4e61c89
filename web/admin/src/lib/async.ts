import { ref, type Ref } from "vue";
import { ElMessage } from "element-plus";
import { ApiError } from "@/api/client";
import { i18n } from "@/i18n";

export function asApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  return new ApiError(0, "internal", e instanceof Error ? e.message : String(e), "");
}

/** describe is one line for a toast: the API's message and its request id. */
export function describe(e: unknown): string {
  const err = asApiError(e);
  const t = i18n.global.t;
  if (err.code === "network") return t("error.network");
  return err.requestId ? `${err.message} (${t("error.requestId")}: ${err.requestId})` : err.message;
}

/** useLoader runs a read and keeps its result, loading flag and error for the page. */
export function useLoader<T>(fn: () => Promise<T>) {
  const data = ref<T>() as Ref<T | undefined>;
  const loading = ref(false);
  const error = ref<ApiError | null>(null);
  let seq = 0;
  async function load() {
    const mine = ++seq;
    loading.value = true;
    error.value = null;
    try {
      const v = await fn();
      if (mine === seq) data.value = v;
    } catch (e) {
      if (mine === seq) error.value = asApiError(e);
    } finally {
      if (mine === seq) loading.value = false;
    }
  }
  return { data, loading, error, load };
}

/**
 * act runs a write: on success it shows done (an i18n key) and answers the
 * result; on failure it shows the API's message with the request id and
 * answers undefined.
 */
export async function act<T>(fn: () => Promise<T>, done?: string): Promise<T | undefined> {
  try {
    const v = await fn();
    if (done) ElMessage.success(i18n.global.t(done));
    return v;
  } catch (e) {
    ElMessage.error({ message: describe(e), duration: 6000, showClose: true });
    return undefined;
  }
}
