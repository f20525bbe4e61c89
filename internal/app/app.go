// Package app is the composition root: it builds every store, service and
// handler from the configuration and assembles the router. Nothing else in
// minimall wires dependencies.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/docs"
	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/adminui"
	"github.com/minimall/minimall/internal/aftersale"
	"github.com/minimall/minimall/internal/apidocs"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/dashboard"
	"github.com/minimall/minimall/internal/logistics"
	"github.com/minimall/minimall/internal/media"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/httpx"
	"github.com/minimall/minimall/internal/platform/jobs"
	"github.com/minimall/minimall/internal/platform/ratelimit"
	"github.com/minimall/minimall/internal/platform/redact"
	"github.com/minimall/minimall/internal/platform/redisx"
	"github.com/minimall/minimall/internal/platform/wechat"
	"github.com/minimall/minimall/internal/platform/wechat/push"
	"github.com/minimall/minimall/internal/review"
	"github.com/minimall/minimall/internal/staff"
)

// App is one running minimall: its router and its background jobs.
type App struct {
	cfg     *config.Config
	log     *slog.Logger
	db      *db.DB
	clock   clock.Clock
	metrics *httpx.Metrics
	engine  *gin.Engine
	// runner runs the step jobs of every module (platform/jobs); background
	// holds long-running work that is not a step job (listeners, the cache
	// refresher).
	runner     *jobs.Runner
	background []Job
	// redis holds the state instances share (MINIMALL_REDIS_ADDR); nil
	// without it. Every use falls back to this instance's memory while
	// Redis does not answer (docs/scaling.md).
	redis *redisx.Client

	// Identity: tokens, the route guards, the audit log, staff and customers.
	tokens    *auth.Tokens
	auth      *auth.Middleware
	audit     *audit.Log
	customers *customer.Store
	login     *customer.Service
	staff     *staff.Service
	staffH    *staff.Handlers
	loginH    *customer.Handlers
	// profileH serves the customer's own profile changes (PATCH /me).
	profileH *customer.ProfileHandlers
	// loginLimit rate-limits login and refresh attempts per client IP.
	loginLimit *ratelimit.Limiter
	// wechat and alipay are nil when their channel is not configured.
	wechat *wechat.Client
	alipay *alipay.Client
	// wechatPush receives the mini-program message push; modules register
	// a handler per event name on it (buildWeChatPush).
	wechatPush *push.Dispatcher

	// Catalog, cart and addresses.
	catalogSvc *catalog.Service
	catalogH   *catalog.Handlers
	carts      *cart.Service
	cartH      *cart.Handlers
	addresses  *address.Service
	addressesH *address.Handlers

	// Orders: checkout, the state machine, shipping and the order jobs.
	orders  *order.Service
	ordersH *order.Handlers
	// checkoutLimit and payLimit limit each customer's checkouts and pay
	// requests.
	checkoutLimit *ratelimit.Limiter
	payLimit      *ratelimit.Limiter

	// Logistics: parcels, tracking, the WeChat shipping-info upload.
	logistics  *logistics.Service
	logisticsH *logistics.Handlers

	// Payments: attempts, prepay, platform notifications and the cancel gate.
	payments  *payment.Service
	paymentsH *payment.Handlers

	// After-sales: requests, decisions, refunds and their jobs.
	afterSales  *aftersale.Service
	afterSalesH *aftersale.Handlers
	// Image uploads, and reviews with their content checks.
	media    *media.Service
	mediaH   *media.Handlers
	reviews  *review.Service
	reviewsH *review.Handlers

	// Staff reads across modules: the dashboard and the audit log.
	dashboardH *dashboard.Handlers
	auditH     *audit.Handlers

	// apiDocsH serves the API reference at /docs; nil when it is off
	// (http.api_docs, off in production by default).
	apiDocsH *apidocs.Handlers
	// consoleH serves the merchant console (web/admin's embedded bundle) at /admin/.
	consoleH *adminui.Handlers
}

// Job is long-running background work that is not a step job (a listener,
// the cache refresher): it runs until its context ends.
type Job struct {
	Name string
	Run  func(ctx context.Context)
}

// New builds the application on an open, migrated database.
func New(cfg *config.Config, d *db.DB, log *slog.Logger, clk clock.Clock) (*App, error) {
	if cfg == nil || d == nil || log == nil || clk == nil {
		return nil, errors.New("app: nil dependency")
	}
	// Every line the application logs goes through the phone-number mask,
	// whoever built the logger (cmd/minimall already does; tests may not).
	if _, ok := log.Handler().(*redact.Handler); !ok {
		log = slog.New(redact.NewHandler(log.Handler()))
	}
	a := &App{cfg: cfg, log: log, db: d, clock: clk, metrics: httpx.NewMetrics()}
	var err error
	if a.runner, err = jobs.New(log, a.metrics.Registry); err != nil {
		return nil, err
	}
	if cfg.Redis.Addr != "" {
		if a.redis, err = redisx.New(redisx.Options{Addr: cfg.Redis.Addr, Prefix: cfg.Redis.Prefix, Log: log,
			Registry: a.metrics.Registry}); err != nil {
			return nil, err
		}
	}
	if err := a.buildIdentity(); err != nil {
		return nil, err
	}
	if err := a.buildWeChatPush(); err != nil {
		return nil, err
	}
	if err := a.buildMedia(); err != nil {
		return nil, err
	}
	if err := a.buildProfiles(); err != nil {
		return nil, err
	}
	if err := a.buildCatalog(); err != nil {
		return nil, err
	}
	if err := a.buildOrders(); err != nil {
		return nil, err
	}
	if err := a.buildPayments(); err != nil {
		return nil, err
	}
	if err := a.buildLogistics(); err != nil {
		return nil, err
	}
	// Orders sit below payments and logistics, which read and move them; the
	// order module reaches up through its ports, connected once all exist:
	// payments close open trades before a cancel, logistics shows parcels.
	if err := a.orders.ConnectPayments(a.payments); err != nil {
		return nil, err
	}
	if err := a.orders.ConnectShipping(a.logistics); err != nil {
		return nil, err
	}
	if err := a.buildAfterSales(); err != nil {
		return nil, err
	}
	if err := a.buildReviews(); err != nil {
		return nil, err
	}
	if err := a.buildStaffReads(); err != nil {
		return nil, err
	}
	e, err := httpx.NewEngine(httpx.Options{
		Logger:         log,
		Metrics:        a.metrics,
		MaxBody:        int64(cfg.HTTP.MaxBody),
		TrustedProxies: cfg.HTTP.TrustedProxies,
		CORSOrigins:    cfg.HTTP.CORSOrigins,
		TooLarge:       notifyTooLarge(),
		BodyLimits: map[string]int64{
			"/api/v1/uploads": a.mediaH.BodyLimit(), "/api/v1/admin/uploads": a.mediaH.BodyLimit(),
		},
	})
	if err != nil {
		return nil, err
	}
	a.engine = e
	if cfg.APIDocsEnabled() {
		if a.apiDocsH, err = apidocs.NewHandlers(docs.OpenAPI); err != nil {
			return nil, err
		}
	}
	if a.consoleH, err = adminui.NewHandlers(cfg.Media.PublicBaseURL); err != nil {
		return nil, err
	}
	a.routes(e)
	a.buildDebug()
	a.buildMetricsListener()
	return a, nil
}

// buildIdentity wires tokens, the audit log, staff, customers and the route
// guards that every other module's routes use.
func (a *App) buildIdentity() error {
	var err error
	if a.tokens, err = auth.NewTokens(a.cfg.JWT.Secret, a.clock); err != nil {
		return err
	}
	if a.audit, err = audit.New(a.db, a.clock); err != nil {
		return err
	}
	staffStore, err := staff.NewStore(a.db)
	if err != nil {
		return err
	}
	passwords, err := auth.NewPasswords(auth.DefaultPasswordCost)
	if err != nil {
		return err
	}
	totpKey, err := a.cfg.Staff.TOTPKeyBytes()
	if err != nil {
		return err
	}
	sealer, err := staff.TOTPSealer(totpKey, a.cfg.JWT.Secret)
	if err != nil {
		return err
	}
	if a.staff, err = staff.NewService(a.db, staffStore, passwords, a.tokens, a.audit, a.clock, sealer); err != nil {
		return err
	}
	if a.staffH, err = staff.NewHandlers(a.staff); err != nil {
		return err
	}
	if err := a.addJobs(jobs.Job{Name: "staff-login-failures-prune", Every: 10 * time.Minute, Batch: 500,
		Step: a.staff.PruneLoginFailures}); err != nil {
		return err
	}
	// Second-factor secrets stored in clear before sealing existed are
	// sealed in the background too, not only at their next login.
	if err := a.addJobs(jobs.Job{Name: "staff-totp-seal", Every: 10 * time.Minute, Batch: 100,
		Step: a.staff.SealClearTOTP}); err != nil {
		return err
	}
	if a.auth, err = auth.NewMiddleware(a.tokens, a.staff); err != nil {
		return err
	}
	if err := a.buildPlatformLogins(); err != nil {
		return err
	}
	refresh, err := auth.NewRefreshTokens(a.db, a.clock)
	if err != nil {
		return err
	}
	// Typed nil pointers would make non-nil interfaces: pass only configured channels.
	var wc customer.WeChatLogin
	if a.wechat != nil {
		wc = a.wechat
	}
	var ali customer.AlipayLogin
	if a.alipay != nil {
		ali = a.alipay
	}
	if a.customers, err = customer.NewStore(a.db); err != nil {
		return err
	}
	if a.login, err = customer.NewService(a.db, a.customers, a.tokens, refresh, a.clock, wc, ali); err != nil {
		return err
	}
	if a.loginH, err = customer.NewHandlers(a.login); err != nil {
		return err
	}
	a.loginLimit, err = a.limiter("login", LoginPerMinute, LoginBurst)
	return err
}

// Login attempts allowed per client IP (API.md), on every instance together
// when Redis is configured.
const (
	LoginPerMinute = 120
	LoginBurst     = 60
)

// limiter returns a rate limiter of perMinute requests a minute per key with
// bursts of burst, shared by every instance through Redis under name when
// Redis is configured (falling back to this instance's buckets while it does
// not answer).
func (a *App) limiter(name string, perMinute, burst int) (*ratelimit.Limiter, error) {
	l, err := ratelimit.New(perMinute, burst, a.clock)
	if err != nil || a.redis == nil {
		return l, err
	}
	shared, err := ratelimit.NewRedis(a.redis)
	if err != nil {
		return nil, err
	}
	return l, l.Share(shared, name)
}

// buildStaffReads wires the dashboard and the audit log's reader, whose days
// are the shop's calendar days (shop.time_zone).
func (a *App) buildStaffReads() error {
	loc, err := a.cfg.Shop.Location()
	if err != nil {
		return err
	}
	store, err := dashboard.NewStore(a.db)
	if err != nil {
		return err
	}
	svc, err := dashboard.NewService(store, a.clock, loc, a.cfg.Dashboard.LowStock)
	if err != nil {
		return err
	}
	if a.dashboardH, err = dashboard.NewHandlers(svc); err != nil {
		return err
	}
	a.auditH, err = audit.NewHandlers(a.audit, loc)
	return err
}

// buildProfiles wires customers' own profiles. An avatar must be an image
// the customer uploaded (docs/identity.md), so it runs after buildMedia.
func (a *App) buildProfiles() error {
	profiles, err := customer.NewProfiles(a.customers, a.clock, a.media)
	if err != nil {
		return err
	}
	a.profileH, err = customer.NewProfileHandlers(profiles)
	return err
}

// buildPlatformLogins makes the WeChat and Alipay clients of the configured
// channels.
func (a *App) buildPlatformLogins() error {
	var err error
	if a.cfg.WeChat.Configured() {
		wc := wechat.Config{AppID: a.cfg.WeChat.AppID, Secret: a.cfg.WeChat.Secret, APIBase: a.cfg.WeChat.APIBase}
		if a.redis != nil {
			// One access token shared by every instance.
			if wc.Cache, err = wechat.NewRedisCache(a.redis); err != nil {
				return err
			}
		}
		if a.wechat, err = wechat.New(wc); err != nil {
			return err
		}
	}
	if a.cfg.Alipay.Configured() {
		priv, err := alipay.LoadKeyFile(a.cfg.Alipay.PrivateKeyFile)
		if err != nil {
			return fmt.Errorf("MINIMALL_ALIPAY_PRIVATE_KEY_FILE: %w", err)
		}
		ac := alipay.Config{AppID: a.cfg.Alipay.AppID, PrivateKey: priv, Gateway: a.cfg.Alipay.Gateway,
			Timeout: a.cfg.Payment.PlatformTimeout}
		if a.cfg.Alipay.CertMode() {
			if ac.AppCert, ac.RootCert, ac.PublicCert, err = alipay.LoadCertFiles(
				a.cfg.Alipay.AppCertFile, a.cfg.Alipay.RootCertFile, a.cfg.Alipay.PublicCertFile); err != nil {
				return err
			}
		} else if ac.PublicKey, err = alipay.LoadKeyFile(a.cfg.Alipay.PublicKeyFile); err != nil {
			return fmt.Errorf("MINIMALL_ALIPAY_PUBLIC_KEY_FILE: %w", err)
		}
		if a.alipay, err = alipay.New(ac); err != nil {
			return err
		}
	}
	return nil
}

// buildWeChatPush makes the dispatcher of the mini-program message push
// (GET/POST /api/v1/notify/wechat). Modules register their events on
// a.wechatPush when they are built; events nobody handles are acknowledged
// and logged.
func (a *App) buildWeChatPush() error {
	var err error
	a.wechatPush, err = push.New(push.Config{
		Token: a.cfg.WeChat.PushToken, AESKey: a.cfg.WeChat.PushAESKey, AppID: a.cfg.WeChat.AppID,
	}, a.log)
	return err
}

// Handler returns the HTTP handler of the whole API.
func (a *App) Handler() http.Handler { return a.engine }

// Engine returns the gin engine, for tests that walk the route table.
func (a *App) Engine() *gin.Engine { return a.engine }

// Payments returns the payment service: the refund service other modules
// call, and the steps of the payment jobs, which tests drive with a fake
// clock.
func (a *App) Payments() *payment.Service { return a.payments }

// Orders returns the order service, whose job steps tests drive directly.
func (a *App) Orders() *order.Service { return a.orders }

// addJobs registers step jobs on the runner.
func (a *App) addJobs(list ...jobs.Job) error {
	for _, j := range list {
		if err := a.runner.Add(j); err != nil {
			return err
		}
	}
	return nil
}

// Jobs returns the runner of the step jobs, so commands and tests can run one
// step of a named job.
func (a *App) Jobs() *jobs.Runner { return a.runner }

// RunJobs runs every step job and every other background work until ctx
// ends and returns when all of them have stopped.
func (a *App) RunJobs(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.runner.Run(ctx)
	}()
	for _, j := range a.background {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.log.Info("job started", "job", j.Name)
			j.Run(ctx)
			a.log.Info("job stopped", "job", j.Name)
		}()
	}
	wg.Wait()
}
