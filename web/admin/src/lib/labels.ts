// Codes the API sends, shown through i18n.
export const carriers = ["SF", "ZTO", "YTO", "YD", "STO", "JT", "JD", "EMS"] as const;
export const orderStatuses = ["pending_payment", "paid", "shipped", "completed", "cancelled", "closed"] as const;
export const uploadStates = ["pending", "uploaded", "failed", "not_required"] as const;
export const afterSaleStatuses = ["requested", "approved", "rejected", "awaiting_return", "returned", "refunding", "refunded", "completed", "cancelled"] as const;
export const afterSaleTypes = ["refund_only", "return_refund", "exchange"] as const;
export const reviewStates = ["pending", "published", "hidden"] as const;
export const roles = ["owner", "operator", "customer_service", "warehouse"] as const;

export function statusTag(status: string | undefined): "success" | "warning" | "info" | "danger" | "primary" {
  switch (status) {
    case "paid":
    case "requested":
    case "pending":
    case "open":
    case "awaiting_return":
      return "warning";
    case "shipped":
    case "approved":
    case "returned":
    case "refunding":
      return "primary";
    case "completed":
    case "refunded":
    case "published":
    case "uploaded":
    case "resolved":
    case "succeeded":
      return "success";
    case "failed":
    case "rejected":
    case "abnormal":
      return "danger";
    default:
      return "info";
  }
}

/** when shows an RFC 3339 time in the browser's zone, or "" for none. */
export function when(t: string | null | undefined): string {
  if (!t) return "";
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) return t;
  const p = (n: number) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}:${p(d.getSeconds())}`;
}
