package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/sandbox"
	"github.com/minimall/minimall/internal/staff"
)

// Demo data that API.md promises.
const (
	demoOwner         = "owner"
	demoOwnerPassword = "demo-owner-pass"
)

// staffService builds the staff service on d, for seeding and bootstrap.
func staffService(cfg *config.Config, d *db.DB, clk clock.Clock) (*staff.Service, *staff.Store, error) {
	tokens, err := auth.NewTokens(cfg.JWT.Secret, clk)
	if err != nil {
		return nil, nil, err
	}
	log, err := audit.New(d, clk)
	if err != nil {
		return nil, nil, err
	}
	store, err := staff.NewStore(d)
	if err != nil {
		return nil, nil, err
	}
	passwords, err := auth.NewPasswords(auth.DefaultPasswordCost)
	if err != nil {
		return nil, nil, err
	}
	totpKey, err := cfg.Staff.TOTPKeyBytes()
	if err != nil {
		return nil, nil, err
	}
	sealer, err := staff.TOTPSealer(totpKey, cfg.JWT.Secret)
	if err != nil {
		return nil, nil, err
	}
	svc, err := staff.NewService(d, store, passwords, tokens, log, clk, sealer)
	return svc, store, err
}

// seedDemoData fills an empty, migrated database with the demo data: the
// staff owner, then every module's demo rows. A database that already has a
// staff account is left alone, so the seed never mixes with real data.
func seedDemoData(ctx context.Context, cfg *config.Config, d *db.DB, clk clock.Clock, stdout io.Writer) error {
	if cfg.Env == config.EnvProduction {
		return errors.New("demo data is refused in production (MINIMALL_ENV=production)")
	}
	accounts, store, err := staffService(cfg, d, clk)
	if err != nil {
		return err
	}
	// One transaction: a seed that fails half-way leaves the database empty,
	// so the next run seeds it whole instead of finding it "not empty".
	seeded := false
	err = d.Tx(ctx, func(ctx context.Context) error {
		n, err := store.Count(ctx)
		if err != nil || n > 0 {
			return err
		}
		owner, err := accounts.Create(ctx, staff.SystemActor, staff.NewAccount{
			Username: demoOwner, Password: demoOwnerPassword, Role: auth.RoleOwner,
		})
		if err != nil {
			return fmt.Errorf("seed demo owner: %w", err)
		}
		if err := seedDemoCatalog(ctx, d, clk, owner.ID); err != nil {
			return err
		}
		seeded = true
		return nil
	})
	if err != nil {
		return err
	}
	if !seeded {
		fmt.Fprintln(stdout, "database is not empty: demo data not seeded")
		return nil
	}
	fmt.Fprintf(stdout, "demo data seeded: staff owner %q with password %q\n", demoOwner, demoOwnerPassword)
	return nil
}

// seedDemoCatalog adds the demo categories and products, recorded as the
// demo owner's writes.
func seedDemoCatalog(ctx context.Context, d *db.DB, clk clock.Clock, ownerID int64) error {
	log, err := audit.New(d, clk)
	if err != nil {
		return err
	}
	store, err := catalog.NewStore(d)
	if err != nil {
		return err
	}
	svc, err := catalog.NewService(d, store, log, clk, catalog.NopInvalidator{})
	if err != nil {
		return err
	}
	if _, err := catalog.SeedDemo(ctx, svc, ownerID); err != nil {
		return fmt.Errorf("seed demo catalog: %w", err)
	}
	return nil
}

// bootstrapOwner creates the configured first owner
// (MINIMALL_BOOTSTRAP_OWNER, password from MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE)
// when the staff table is empty.
func bootstrapOwner(ctx context.Context, cfg *config.Config, d *db.DB, clk clock.Clock, log *slog.Logger) error {
	if cfg.Bootstrap.Owner == "" {
		return nil
	}
	b, err := os.ReadFile(cfg.Bootstrap.OwnerPasswordFile)
	if err != nil {
		return fmt.Errorf("MINIMALL_BOOTSTRAP_OWNER_PASSWORD_FILE: %w", err)
	}
	password := strings.TrimRight(string(b), "\r\n")
	accounts, _, err := staffService(cfg, d, clk)
	if err != nil {
		return err
	}
	made, err := accounts.Bootstrap(ctx, cfg.Bootstrap.Owner, password)
	if err != nil {
		return fmt.Errorf("bootstrap owner %q: %w", cfg.Bootstrap.Owner, err)
	}
	if made {
		log.Info("created the bootstrap staff owner", "username", staff.NormalizeUsername(cfg.Bootstrap.Owner))
	}
	return nil
}

// sandboxDir is where the sandbox writes its keys: next to the SQLite file
// (./data/sandbox with the default DSN), or ./data/sandbox on MySQL.
func sandboxDir(cfg *config.Config) string {
	if cfg.DB.Driver == config.DriverSQLite {
		return filepath.Join(filepath.Dir(cfg.DB.DSN), "sandbox")
	}
	return filepath.Join("data", "sandbox")
}

// runningSandbox is a sandbox served on its own listener.
type runningSandbox struct {
	sb    *sandbox.Server
	base  string
	priv  string
	pub   string
	srv   *http.Server
	errc  chan error
	close func()
}

// startSandbox serves a fresh sandbox on cfg.Sandbox.Addr and writes its keys
// and settings under sandboxDir.
func startSandbox(cfg *config.Config, log *slog.Logger) (*runningSandbox, error) {
	if cfg.Env == config.EnvProduction {
		return nil, errors.New("the sandbox is refused in production (MINIMALL_ENV=production)")
	}
	sb, err := sandbox.New(sandbox.Options{})
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Sandbox.Addr)
	if err != nil {
		return nil, fmt.Errorf("listen on %s (MINIMALL_SANDBOX_ADDR): %w", cfg.Sandbox.Addr, err)
	}
	base := "http://" + ln.Addr().String()
	priv, pub, err := sb.WriteFiles(sandboxDir(cfg), base)
	if err != nil {
		_ = ln.Close()
		return nil, fmt.Errorf("write sandbox keys: %w", err)
	}
	srv := &http.Server{Handler: sb, ReadHeaderTimeout: 10 * time.Second}
	rs := &runningSandbox{sb: sb, base: base, priv: priv, pub: pub, srv: srv, errc: make(chan error, 1)}
	go func() { rs.errc <- srv.Serve(ln) }()
	rs.close = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := srv.Shutdown(ctx); err != nil {
			log.Warn("sandbox shutdown", "err", err)
		}
		<-rs.errc
		sb.StopDeliveries()
	}
	return rs, nil
}

// pushPath is where minimall receives the mini-program message push.
const pushPath = "/api/v1/notify/wechat"

// pointAt configures every platform minimall talks to at the sandbox.
func (rs *runningSandbox) pointAt(cfg *config.Config) {
	s := rs.sb.Settings()
	ep := sandbox.EndpointsAt(rs.base)
	cfg.WeChat = config.WeChat{AppID: s.WeChatAppID, Secret: s.WeChatSecret, APIBase: ep.WeChatAPIBase,
		PushToken: s.WeChatPushToken, PushAESKey: s.WeChatPushAESKey}
	cfg.Courier = config.Courier{APIBase: rs.base, Key: s.CourierKey, Customer: s.CourierCustomer, Salt: s.CourierSalt}
	// The mini-program console's message-push URL: the sandbox pushes
	// WeChat's events (settlement, content-check verdicts) there, in safe
	// mode; serve sets it again once it knows its listener.
	rs.sb.SetWeChatPushURL(cfg.HTTP.PublicBaseURL+pushPath, false)
	cfg.Alipay.AppID = s.AlipayAppID
	cfg.Alipay.PrivateKeyFile = rs.priv
	cfg.Alipay.PublicKeyFile = rs.pub
	cfg.Alipay.Gateway = ep.AlipayGateway
	cfg.Alipay.SellerID = s.AlipaySellerID
	dir := filepath.Dir(rs.priv) // WriteFiles put the WeChat Pay keys next to the Alipay ones
	cfg.WeChatPay = config.WeChatPay{
		MchID: s.WeChatPayMchID, Serial: s.WeChatPaySerial, APIv3Key: s.WeChatPayAPIv3Key,
		PrivateKeyFile: filepath.Join(dir, sandbox.FileWeChatPayPrivateKey),
		PublicKeyID:    s.WeChatPayPublicKeyID, PublicKeyFile: filepath.Join(dir, sandbox.FileWeChatPayPublicKey),
		APIBase: rs.base,
	}
}

// runSandboxServer is `minimall sandbox`: the sandbox alone, until ctx ends,
// with its settings written for `minimall serve` to use.
func runSandboxServer(ctx context.Context, cfg *config.Config, log *slog.Logger, stdout io.Writer) error {
	rs, err := startSandbox(cfg, log)
	if err != nil {
		return err
	}
	dir := sandboxDir(cfg)
	// WeChat's events go to the `minimall serve` this configuration
	// describes (POST /_sandbox/wechat/push-url points them elsewhere).
	rs.sb.SetWeChatPushURL(cfg.HTTP.PublicBaseURL+pushPath, false)
	fmt.Fprintf(stdout, "sandbox listening on %s\n", rs.base)
	fmt.Fprintf(stdout, "settings written to %s: run `set -a; . %s; set +a` before `minimall serve`\n",
		dir, filepath.Join(dir, sandbox.FileEnv))
	select {
	case <-ctx.Done():
		rs.close()
		return nil
	case err := <-rs.errc:
		return err
	}
}
