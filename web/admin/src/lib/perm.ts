// What each staff role may do, as internal/auth/roles.go grants it. The
// server enforces it; the console only hides what the role cannot use.
import type { components } from "@/api/schema";

export type Role = components["schemas"]["StaffRole"];

export type Permission =
  | "catalog.write"
  | "stock.adjust"
  | "orders.view"
  | "orders.ship"
  | "aftersales.decide"
  | "aftersales.receive"
  | "reviews.moderate"
  | "dashboard.view"
  | "staff.manage"
  | "payments.resolve"
  | "audit.view";

const grants: Record<Exclude<Role, "owner">, Permission[]> = {
  operator: [
    "catalog.write",
    "stock.adjust",
    "orders.view",
    "orders.ship",
    "aftersales.decide",
    "aftersales.receive",
    "reviews.moderate",
    "dashboard.view",
    "payments.resolve",
  ],
  customer_service: ["orders.view", "aftersales.decide", "reviews.moderate", "dashboard.view"],
  warehouse: ["stock.adjust", "orders.view", "orders.ship", "aftersales.receive", "dashboard.view"],
};

export function can(role: Role | undefined | null, p: Permission): boolean {
  if (!role) return false;
  if (role === "owner") return true;
  return grants[role]?.includes(p) ?? false;
}
