import { createRouter, createWebHistory, type RouteRecordRaw } from "vue-router";
import { useSession } from "./stores/session";
import type { Permission } from "./lib/perm";

declare module "vue-router" {
  interface RouteMeta {
    perm?: Permission;
    title?: string;
  }
}

const routes: RouteRecordRaw[] = [
  { path: "/login", name: "login", component: () => import("./views/LoginView.vue") },
  {
    path: "/",
    component: () => import("./views/LayoutView.vue"),
    children: [
      { path: "", redirect: { name: "dashboard" } },
      { path: "dashboard", name: "dashboard", component: () => import("./views/DashboardView.vue"), meta: { perm: "dashboard.view", title: "nav.dashboard" } },
      { path: "catalog/categories", name: "categories", component: () => import("./views/CategoriesView.vue"), meta: { perm: "orders.view", title: "nav.categories" } },
      { path: "catalog/products", name: "products", component: () => import("./views/ProductsView.vue"), meta: { perm: "orders.view", title: "nav.products" } },
      { path: "catalog/products/new", name: "product-new", component: () => import("./views/ProductEditView.vue"), meta: { perm: "catalog.write", title: "product.new" } },
      { path: "catalog/products/:id", name: "product-edit", component: () => import("./views/ProductEditView.vue"), meta: { perm: "orders.view", title: "product.edit" } },
      { path: "orders", name: "orders", component: () => import("./views/OrdersView.vue"), meta: { perm: "orders.view", title: "nav.orders" } },
      { path: "orders/:id", name: "order", component: () => import("./views/OrderDetailView.vue"), meta: { perm: "orders.view", title: "order.detail" } },
      { path: "aftersales", name: "aftersales", component: () => import("./views/AfterSalesView.vue"), meta: { perm: "orders.view", title: "nav.aftersales" } },
      { path: "aftersales/:id", name: "aftersale", component: () => import("./views/AfterSaleDetailView.vue"), meta: { perm: "orders.view", title: "aftersale.detail" } },
      { path: "reviews", name: "reviews", component: () => import("./views/ReviewsView.vue"), meta: { perm: "reviews.moderate", title: "nav.reviews" } },
      { path: "payments/anomalies", name: "anomalies", component: () => import("./views/AnomaliesView.vue"), meta: { perm: "orders.view", title: "nav.anomalies" } },
      { path: "security", name: "security", component: () => import("./views/SecurityView.vue"), meta: { title: "nav.security" } },
      { path: "staff", name: "staff", component: () => import("./views/StaffView.vue"), meta: { perm: "staff.manage", title: "nav.staff" } },
      { path: "audit", name: "audit", component: () => import("./views/AuditView.vue"), meta: { perm: "audit.view", title: "nav.audit" } },
      { path: ":rest(.*)*", name: "not-found", component: () => import("./views/NotFoundView.vue") },
    ],
  },
];

export const router = createRouter({ history: createWebHistory("/admin/"), routes });

router.beforeEach((to) => {
  const session = useSession();
  if (to.name === "login") return true;
  if (!session.loggedIn) {
    if (session.token) session.expire();
    return { name: "login", query: to.fullPath !== "/" && to.fullPath !== "/dashboard" ? { redirect: to.fullPath } : {} };
  }
  if (session.enrolOnly && to.name !== "security") return { name: "security" };
  if (to.meta.perm && !session.allows(to.meta.perm)) {
    return to.name === "dashboard" ? { name: "orders" } : { name: "dashboard" };
  }
  return true;
});
