package customer_test

import (
	"context"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/wechat"
	"github.com/minimall/minimall/internal/sandbox"
)

const testSecret = "test-secret-test-secret-test-secret-0123"

type platforms struct {
	sb     *sandbox.Server
	wechat *wechat.Client
	alipay *alipay.Client
}

func newPlatforms(t *testing.T, opts sandbox.Options) platforms {
	t.Helper()
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	opts.Keys = keys
	sb, err := sandbox.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	s := sb.Settings()
	ep := sandbox.EndpointsAt(srv.URL)
	wc, err := wechat.New(wechat.Config{AppID: s.WeChatAppID, Secret: s.WeChatSecret, APIBase: ep.WeChatAPIBase})
	if err != nil {
		t.Fatal(err)
	}
	ali, err := alipay.New(alipay.Config{AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, PublicKey: s.AlipayPublicKey, Gateway: ep.AlipayGateway})
	if err != nil {
		t.Fatal(err)
	}
	return platforms{sb: sb, wechat: wc, alipay: ali}
}

type loginFixture struct {
	clock   *clock.Fake
	store   *customer.Store
	tokens  *auth.Tokens
	refresh *auth.RefreshTokens
}

func newLoginFixture(t *testing.T, d *db.DB) loginFixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	tokens, err := auth.NewTokens(testSecret, clk)
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := auth.NewRefreshTokens(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	store, err := customer.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	return loginFixture{clock: clk, store: store, tokens: tokens, refresh: refresh}
}

func (f loginFixture) service(t *testing.T, d *db.DB, p platforms) *customer.Service {
	t.Helper()
	svc, err := customer.NewService(d, f.store, f.tokens, f.refresh, f.clock, p.wechat, p.alipay)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// rowCounts counts the rows login may write.
func rowCounts(t *testing.T, d *db.DB) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	for _, table := range []string{"customers", "customer_identities", "refresh_tokens"} {
		var n int64
		if err := d.Reader(context.Background()).Table(table).Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		out[table] = n
	}
	return out
}

func TestLoginBothChannels(t *testing.T) {
	p := newPlatforms(t, sandbox.Options{})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		svc := f.service(t, d, p)
		ctx := context.Background()

		w1, err := svc.LoginWeChat(ctx, "test-alice")
		if err != nil {
			t.Fatal(err)
		}
		w2, err := svc.LoginWeChat(ctx, "test-alice")
		if err != nil {
			t.Fatal(err)
		}
		if w1.CustomerID != w2.CustomerID || w1.CustomerID == 0 || w1.Channel != customer.ChannelWeChat {
			t.Errorf("same WeChat name gave customers %d and %d", w1.CustomerID, w2.CustomerID)
		}
		wb, err := svc.LoginWeChat(ctx, "test-bob")
		if err != nil {
			t.Fatal(err)
		}
		if wb.CustomerID == w1.CustomerID {
			t.Error("different names share a customer")
		}
		a1, err := svc.LoginAlipay(ctx, "test-alice")
		if err != nil {
			t.Fatal(err)
		}
		a2, err := svc.LoginAlipay(ctx, "test-alice")
		if err != nil {
			t.Fatal(err)
		}
		if a1.CustomerID != a2.CustomerID || a1.Channel != customer.ChannelAlipay {
			t.Errorf("same Alipay name gave customers %d and %d", a1.CustomerID, a2.CustomerID)
		}
		if a1.CustomerID == w1.CustomerID {
			t.Error("an Alipay account was merged with a WeChat one without any link")
		}
		for _, s := range []customer.Session{w1, a1} {
			cl, err := f.tokens.Verify(s.AccessToken)
			if err != nil {
				t.Fatal(err)
			}
			if cl.Type != auth.TypeCustomer || cl.SubjectID() != s.CustomerID || cl.Channel != s.Channel {
				t.Errorf("claims %+v for session %+v", cl, s)
			}
			if s.RefreshToken == "" || s.ExpiresIn != auth.CustomerTTL {
				t.Errorf("session %+v", s)
			}
		}
		ids, err := f.store.Identities(ctx, a1.CustomerID, customer.ChannelAlipay)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0].Subject != sandbox.AlipayUserID("alice") || ids[0].SubjectKind != customer.KindAlipayUserID {
			t.Errorf("alipay identities = %+v", ids)
		}
		ids, err = f.store.Identities(ctx, w1.CustomerID, customer.ChannelWeChat)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0].Subject != p.sb.WeChatOpenID("alice") || ids[0].UnionID != "u-alice" {
			t.Errorf("wechat identities = %+v", ids)
		}
		got := rowCounts(t, d)
		want := map[string]int64{"customers": 3, "customer_identities": 3, "refresh_tokens": 5}
		for k, v := range want {
			if got[k] != v {
				t.Errorf("%s rows = %d, want %d", k, got[k], v)
			}
		}
	})
}

// TestUnionIDLinksSecondWeChatApp logs the same person into two WeChat apps
// (two sandboxes answer the same unionid for a name): one customer.
func TestUnionIDLinksSecondWeChatApp(t *testing.T) {
	p1 := newPlatforms(t, sandbox.Options{})
	p2 := newPlatforms(t, sandbox.Options{})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		ctx := context.Background()
		s1, err := f.service(t, d, p1).LoginWeChat(ctx, "test-carol")
		if err != nil {
			t.Fatal(err)
		}
		s2, err := f.service(t, d, p2).LoginWeChat(ctx, "test-carol")
		if err != nil {
			t.Fatal(err)
		}
		if s1.CustomerID != s2.CustomerID {
			t.Errorf("unionid did not link: customers %d and %d", s1.CustomerID, s2.CustomerID)
		}
		ids, err := f.store.Identities(ctx, s1.CustomerID, customer.ChannelWeChat)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 2 || ids[0].AppID == ids[1].AppID {
			t.Errorf("identities = %+v, want one per app", ids)
		}
	})
}

func TestLoginAlipayOpenIDApp(t *testing.T) {
	p := newPlatforms(t, sandbox.Options{AlipayOpenID: true})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		svc := f.service(t, d, p)
		ctx := context.Background()
		s1, err := svc.LoginAlipay(ctx, "test-dan")
		if err != nil {
			t.Fatal(err)
		}
		s2, err := svc.LoginAlipay(ctx, "test-dan")
		if err != nil || s2.CustomerID != s1.CustomerID {
			t.Fatalf("second login: %+v, %v", s2, err)
		}
		ids, err := f.store.Identities(ctx, s1.CustomerID, customer.ChannelAlipay)
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) != 1 || ids[0].SubjectKind != customer.KindAlipayOpenID || ids[0].Subject != p.sb.AlipayOpenID("dan") {
			t.Errorf("identities = %+v", ids)
		}
	})
}

// TestRefusedCodesWriteNothing sends every refused code of the sandbox and
// checks both the answer and that no row was written.
func TestRefusedCodesWriteNothing(t *testing.T) {
	p := newPlatforms(t, sandbox.Options{})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		svc := f.service(t, d, p)
		ctx := context.Background()
		tests := []struct {
			channel, code string
			want          apperr.Code
		}{
			{customer.ChannelWeChat, "bad-code", apperr.CodeInvalidCode},
			{customer.ChannelWeChat, "risky", apperr.CodeLoginBlocked},
			{customer.ChannelWeChat, "busy", apperr.CodeUpstreamUnavailable},
			{customer.ChannelWeChat, "slow-down", apperr.CodeRateLimited},
			{customer.ChannelWeChat, "", apperr.CodeInvalid},
			{customer.ChannelWeChat, "test-x&appid=evil", apperr.CodeInvalid},
			{customer.ChannelAlipay, "bad-code", apperr.CodeInvalidCode},
			{customer.ChannelAlipay, "busy", apperr.CodeUpstreamUnavailable},
		}
		for _, tt := range tests {
			t.Run(tt.channel+"/"+tt.code, func(t *testing.T) {
				var err error
				if tt.channel == customer.ChannelWeChat {
					_, err = svc.LoginWeChat(ctx, tt.code)
				} else {
					_, err = svc.LoginAlipay(ctx, tt.code)
				}
				if got := apperr.CodeOf(err); got != tt.want {
					t.Errorf("got %s (%v), want %s", got, err, tt.want)
				}
				for table, n := range rowCounts(t, d) {
					if n != 0 {
						t.Errorf("%s has %d rows after a refused login", table, n)
					}
				}
			})
		}
	})
}

func TestUnconfiguredChannel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		svc, err := customer.NewService(d, f.store, f.tokens, f.refresh, f.clock, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.LoginWeChat(context.Background(), "test-a"); apperr.CodeOf(err) != apperr.CodeChannelUnavailable {
			t.Errorf("wechat: %v", err)
		}
		if _, err := svc.LoginAlipay(context.Background(), "test-a"); apperr.CodeOf(err) != apperr.CodeChannelUnavailable {
			t.Errorf("alipay: %v", err)
		}
	})
}

// TestConcurrentFirstLogin races first logins of one account: one customer
// and one identity result, and every login succeeds.
func TestConcurrentFirstLogin(t *testing.T) {
	p := newPlatforms(t, sandbox.Options{})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		svc := f.service(t, d, p)
		const n = 8
		ids := make([]int64, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				s, err := svc.LoginWeChat(context.Background(), "test-eve")
				ids[i], errs[i] = s.CustomerID, err
			}()
		}
		wg.Wait()
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("login %d: %v", i, errs[i])
			}
			if ids[i] != ids[0] {
				t.Errorf("login %d got customer %d, login 0 got %d", i, ids[i], ids[0])
			}
		}
		got := rowCounts(t, d)
		if got["customer_identities"] != 1 {
			t.Errorf("identities = %d, want 1", got["customer_identities"])
		}
	})
}

// WeChatOpenID names the customer as the configured mini-program knows
// them, and no one for a customer who never logged in through it.
func TestWeChatOpenID(t *testing.T) {
	p := newPlatforms(t, sandbox.Options{})
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newLoginFixture(t, d)
		svc := f.service(t, d, p)
		ctx := context.Background()
		w, err := svc.LoginWeChat(ctx, "test-carol")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := svc.WeChatOpenID(ctx, w.CustomerID); err != nil || got != p.sb.WeChatOpenID("carol") {
			t.Errorf("openid = %q, %v; want %q", got, err, p.sb.WeChatOpenID("carol"))
		}
		a, err := svc.LoginAlipay(ctx, "test-dave")
		if err != nil {
			t.Fatal(err)
		}
		if got, err := svc.WeChatOpenID(ctx, a.CustomerID); err != nil || got != "" {
			t.Errorf("Alipay-only customer's openid = %q, %v; want none", got, err)
		}
	})
}
