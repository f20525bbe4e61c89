package app

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/logistics"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/httpx"
	"github.com/minimall/minimall/internal/platform/wechat/push"
)

// routes is the whole API in one table: operations routes, the customer API,
// the staff API and the platforms' callbacks, each group with its middleware.
// Handlers live in their domain packages; this file only places them.
func (a *App) routes(e *gin.Engine) {
	e.GET("/healthz", a.healthz)
	e.GET("/readyz", a.readyz)
	if a.metricsOnPublic() {
		e.GET("/metrics", a.metrics.Handler())
	}

	// The API reference, when configured (on in development and demo mode).
	if a.apiDocsH != nil {
		e.GET("/docs", a.apiDocsH.Page)
		e.GET("/docs/openapi.yaml", a.apiDocsH.Spec)
		e.GET("/docs/assets/:name", a.apiDocsH.Asset)
	}

	// The merchant console: a single-page app on the staff API below, served
	// from the binary (internal/adminui, docs/console.md). Not API routes, so
	// not in docs/openapi.yaml.
	a.consoleH.Mount(e)

	// Uploaded images, when they are kept in the local media directory.
	e.GET("/media/:key", a.mediaH.Serve)

	api := e.Group("/api/v1")

	// Public customer routes: login, refresh, catalog reads.
	public := api.Group("")
	// Answers carrying tokens are never cached (httpx.NoStore).
	public.POST("/auth/wechat/login", a.loginLimit.PerIP(), httpx.NoStore(), a.loginH.WeChat)
	public.POST("/auth/alipay/login", a.loginLimit.PerIP(), httpx.NoStore(), a.loginH.Alipay)
	public.POST("/auth/refresh", a.loginLimit.PerIP(), httpx.NoStore(), a.loginH.Refresh)
	// Routes marked replicaOK may read from a read replica (docs/scaling.md);
	// the catalog cache still loads recently changed products from the
	// primary. Everything else, and everything in a transaction, reads the
	// primary.
	public.GET("/categories", replicaOK, a.catalogH.Categories)
	public.GET("/products", replicaOK, a.catalogH.Products)
	public.GET("/products/:id", replicaOK, a.catalogH.Product)
	public.GET("/products/:id/reviews", replicaOK, a.reviewsH.Product)

	// Customer routes: a customer token.
	customer := api.Group("", a.auth.Customer())
	customer.GET("/me", a.loginH.Me)
	customer.PATCH("/me", a.profileH.Update)
	customer.GET("/cart", a.cartH.Get)
	customer.POST("/cart/items", a.cartH.Add)
	customer.PATCH("/cart/items/:id", a.cartH.Update)
	customer.DELETE("/cart/items/:id", a.cartH.Remove)
	customer.GET("/addresses", a.addressesH.List)
	customer.POST("/addresses", a.addressesH.Create)
	customer.PUT("/addresses/:id", a.addressesH.Update)
	customer.DELETE("/addresses/:id", a.addressesH.Delete)
	customer.POST("/orders/preview", a.ordersH.Preview)
	customer.POST("/orders", a.checkoutLimit.PerKey(customerKey, "too many orders placed in a short time; wait a moment"), a.ordersH.Create)
	customer.GET("/orders", a.ordersH.List)
	customer.GET("/orders/:id", a.ordersH.Get)
	customer.POST("/orders/:id/cancel", a.ordersH.Cancel)
	customer.POST("/orders/:id/confirm", a.ordersH.Confirm)
	customer.POST("/orders/:id/pay", a.payLimit.PerKey(customerKey, "too many payment requests in a short time; wait a moment"), a.paymentsH.Pay)
	customer.GET("/orders/:id/tracking", a.logisticsH.Tracking)
	customer.POST("/aftersales", a.afterSalesH.Create)
	customer.GET("/aftersales", a.afterSalesH.List)
	customer.GET("/aftersales/:id", a.afterSalesH.Get)
	customer.POST("/aftersales/:id/return-shipment", a.afterSalesH.ReturnShipment)
	customer.POST("/aftersales/:id/cancel", a.afterSalesH.Cancel)
	customer.POST("/orders/:id/reviews", a.reviewsH.Create)
	customer.POST("/reviews/:id/follow-up", a.reviewsH.FollowUp)
	customer.GET("/reviews/mine", a.reviewsH.Mine)
	customer.POST("/uploads", a.mediaH.Upload)

	// Staff login is the one admin route without a token.
	api.POST("/admin/auth/login", a.loginLimit.PerIP(), httpx.NoStore(), a.staffH.Login)

	// A staff member's own second factor: also open to a token that may only
	// enrol one (the shop requires it and the account has none yet).
	enrol := api.Group("/admin/auth/totp", a.auth.StaffEnrolment(), httpx.NoStore())
	enrol.GET("", a.staffH.TOTPStatus)
	enrol.POST("/enrol", a.staffH.StartTOTP)
	enrol.POST("/activate", a.staffH.ActivateTOTP)
	// Turning it off checks the password and a code: limited like login.
	enrol.POST("/disable", a.loginLimit.PerIP(), a.staffH.DisableTOTP)

	// Staff routes under /api/v1/admin: a staff token, then a permission per route.
	admin := api.Group("/admin", a.auth.Staff())
	admin.GET("/staff", auth.Require(auth.PermStaffManage), a.staffH.List)
	admin.POST("/staff", auth.Require(auth.PermStaffManage), a.staffH.Create)
	admin.PUT("/staff/:id", auth.Require(auth.PermStaffManage), a.staffH.Update)
	admin.POST("/staff/:id/totp/reset", auth.Require(auth.PermStaffManage), a.staffH.ResetTOTP)
	admin.GET("/security", auth.Require(auth.PermStaffManage), a.staffH.Settings)
	admin.PUT("/security", auth.Require(auth.PermStaffManage), a.staffH.UpdateSettings)
	// Catalog reads are open to every staff role that works with orders
	// (all of them); writes need catalog write, stock needs stock adjust.
	admin.GET("/categories", auth.Require(auth.PermOrdersView), a.catalogH.AdminCategories)
	admin.POST("/categories", auth.Require(auth.PermCatalogWrite), a.catalogH.CreateCategory)
	admin.PUT("/categories/:id", auth.Require(auth.PermCatalogWrite), a.catalogH.UpdateCategory)
	admin.DELETE("/categories/:id", auth.Require(auth.PermCatalogWrite), a.catalogH.DeleteCategory)
	admin.GET("/products", auth.Require(auth.PermOrdersView), replicaOK, a.catalogH.AdminProducts)
	admin.POST("/products", auth.Require(auth.PermCatalogWrite), a.catalogH.CreateProduct)
	admin.GET("/products/:id", auth.Require(auth.PermOrdersView), a.catalogH.AdminProduct)
	admin.PUT("/products/:id", auth.Require(auth.PermCatalogWrite), a.catalogH.UpdateProduct)
	admin.POST("/products/:id/on-shelf", auth.Require(auth.PermCatalogWrite), a.catalogH.OnShelf)
	admin.POST("/products/:id/off-shelf", auth.Require(auth.PermCatalogWrite), a.catalogH.OffShelf)
	admin.POST("/skus/:id/stock", auth.Require(auth.PermStockAdjust), a.catalogH.AdjustStock)
	admin.GET("/orders", auth.Require(auth.PermOrdersView), replicaOK, a.ordersH.AdminList)
	admin.GET("/orders/:id", auth.Require(auth.PermOrdersView), a.ordersH.AdminGet)
	admin.GET("/orders/:id/tracking", auth.Require(auth.PermOrdersView), a.logisticsH.AdminTracking)
	admin.POST("/orders/:id/ship", auth.Require(auth.PermOrdersShip), a.logisticsH.Ship)
	admin.PUT("/orders/:id/parcels/:parcel_id", auth.Require(auth.PermOrdersShip), a.logisticsH.CorrectParcel)
	admin.POST("/orders/:id/shipping-upload/retry", auth.Require(auth.PermOrdersShip), a.logisticsH.RetryUpload)
	admin.POST("/orders/:id/refunds", auth.Require(auth.PermAfterSalesDecide), a.afterSalesH.MerchantRefund)
	admin.GET("/aftersales", auth.Require(auth.PermOrdersView), replicaOK, a.afterSalesH.AdminList)
	admin.GET("/aftersales/:id", auth.Require(auth.PermOrdersView), a.afterSalesH.AdminGet)
	admin.POST("/aftersales/:id/approve", auth.Require(auth.PermAfterSalesDecide), a.afterSalesH.Approve)
	admin.POST("/aftersales/:id/reject", auth.Require(auth.PermAfterSalesDecide), a.afterSalesH.Reject)
	admin.POST("/aftersales/:id/receive-return", auth.Require(auth.PermAfterSalesReceive), a.afterSalesH.ReceiveReturn)
	admin.POST("/aftersales/:id/ship-replacement", auth.Require(auth.PermOrdersShip), a.afterSalesH.ShipReplacement)
	admin.GET("/payment-anomalies", auth.Require(auth.PermOrdersView), replicaOK, a.paymentsH.AdminAnomalies)
	admin.POST("/payment-anomalies/:id/resolve", auth.Require(auth.PermPaymentsResolve), a.paymentsH.ResolveAnomaly)
	admin.POST("/payment-anomalies/:id/refund", auth.Require(auth.PermAfterSalesDecide), a.afterSalesH.RefundAnomaly)
	admin.POST("/uploads", auth.Require(auth.PermCatalogWrite), a.mediaH.AdminUpload)
	admin.GET("/reviews", auth.Require(auth.PermReviewsModerate), replicaOK, a.reviewsH.AdminList)
	admin.GET("/reviews/:id", auth.Require(auth.PermReviewsModerate), a.reviewsH.AdminGet)
	admin.POST("/reviews/:id/reply", auth.Require(auth.PermReviewsModerate), a.reviewsH.Reply)
	admin.POST("/reviews/:id/hide", auth.Require(auth.PermReviewsModerate), a.reviewsH.Hide)
	admin.POST("/reviews/:id/publish", auth.Require(auth.PermReviewsModerate), a.reviewsH.Publish)
	admin.GET("/dashboard", auth.Require(auth.PermDashboard), replicaOK, a.dashboardH.Get)
	admin.GET("/audit", auth.Require(auth.PermAuditView), replicaOK, a.auditH.List)

	// Platform callbacks under /api/v1/notify: authenticated by the platforms' signatures.
	notify := api.Group("/notify")
	notify.POST("/wechatpay", a.paymentsH.WeChatNotify)
	notify.POST("/wechatpay/refund", a.paymentsH.WeChatRefundNotify)
	notify.POST("/alipay", a.paymentsH.AlipayNotify)
	notify.POST("/courier", a.logisticsH.CourierPush)
	notify.GET("/wechat", a.wechatPush.Verify)
	notify.POST("/wechat", a.wechatPush.Receive)
}

func (a *App) healthz(c *gin.Context) {
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyTimeout bounds /readyz's ping, so that the probe answers 503 within
// 2 s (a load balancer's usual probe timeout) when the database hangs.
const readyTimeout = 1500 * time.Millisecond

func (a *App) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), readyTimeout)
	defer cancel()
	if err := a.db.Ping(ctx); err != nil {
		a.log.WarnContext(ctx, "readiness check failed", "err", err)
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "checks": gin.H{"database": "down"}})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ok", "checks": gin.H{"database": "ok"}})
}

// notifyTooLarge answers an over-limit body on each platform callback in the
// platform's own format; the routes are in routes above.
func notifyTooLarge() map[string]gin.HandlerFunc {
	return map[string]gin.HandlerFunc{
		"/api/v1/notify/wechatpay":        payment.WeChatTooLarge,
		"/api/v1/notify/wechatpay/refund": payment.WeChatTooLarge,
		"/api/v1/notify/alipay":           payment.AlipayTooLarge,
		"/api/v1/notify/courier":          logistics.CourierTooLarge,
		"/api/v1/notify/wechat":           push.TooLarge,
	}
}

// replicaOK marks a read-only route whose reads may come from a read replica
// up to the configured lag behind the primary: public catalog and review
// pages and staff lists. A customer's own data never is.
func replicaOK(c *gin.Context) {
	c.Request = c.Request.WithContext(db.MayReadReplica(c.Request.Context()))
	c.Next()
}
