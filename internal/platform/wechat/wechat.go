// Package wechat adapts the WeChat mini-program server API (login through
// code2session, the access token) using github.com/silenceper/wechat/v2.
//
// silenceper hard-codes https://api.weixin.qq.com and sends every request
// through its package-level util.DefaultHTTPClient. This package installs,
// once per process, a client of its own there whose transport sends each
// request to the base URL that the calling Client put in the request's
// context (MINIMALL_WECHAT_API_BASE). Several Clients with different bases
// (the real platform, a sandbox per test) can therefore live in one process,
// and requests bound for the real platform carry a timeout.
//
// The root silenceper package is not imported: it turns on global debug
// logging.
package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/silenceper/wechat/v2/cache"
	"github.com/silenceper/wechat/v2/miniprogram"
	mpconfig "github.com/silenceper/wechat/v2/miniprogram/config"
	"github.com/silenceper/wechat/v2/util"

	"github.com/minimall/minimall/internal/apperr"
)

// DefaultAPIBase is where silenceper sends its requests.
const DefaultAPIBase = "https://api.weixin.qq.com"

// requestTimeout bounds one call to the WeChat API.
const requestTimeout = 10 * time.Second

// WeChat error codes that login maps to its own answers.
const (
	ErrCodeBusy         = -1    // system busy
	ErrCodeInvalidCode  = 40029 // js_code invalid
	ErrCodeCodeUsed     = 40163 // js_code already used
	ErrCodeHighRisk     = 40226 // high-risk user, login blocked
	ErrCodeRateLimited  = 45011 // API minute-quota reached (per user)
	ErrCodeInvalidCreds = 40125 // invalid appsecret
)

// installOnce guards the one write to silenceper's package-level client: the
// single place where the library forces global state on us.
var installOnce sync.Once

type baseKey struct{}

// InstallTransport replaces silenceper's util.DefaultHTTPClient with one that
// honours per-request API bases and bounds each request. It is safe to call
// any number of times; only the first call changes anything.
func InstallTransport() {
	installOnce.Do(func() {
		util.DefaultHTTPClient = &http.Client{
			Timeout:   requestTimeout,
			Transport: &rewriter{next: http.DefaultTransport},
		}
	})
}

// rewriter sends requests for api.weixin.qq.com to the base URL found in the
// request's context, if any.
type rewriter struct {
	next http.RoundTripper
}

// RoundTrip rewrites the scheme and host, then sends the request.
func (r *rewriter) RoundTrip(req *http.Request) (*http.Response, error) {
	base, ok := req.Context().Value(baseKey{}).(*url.URL)
	if ok && req.URL.Host == "api.weixin.qq.com" {
		req = req.Clone(req.Context())
		req.URL.Scheme = base.Scheme
		req.URL.Host = base.Host
		req.URL.Path = strings.TrimRight(base.Path, "/") + req.URL.Path
		req.Host = base.Host
	}
	return r.next.RoundTrip(req)
}

// Config is what a Client needs.
type Config struct {
	AppID   string
	Secret  string
	APIBase string // scheme and host, e.g. https://api.weixin.qq.com
	// Cache holds the access token. Several instances must share one
	// (RedisCache) so that one refresh does not revoke the others' tokens;
	// nil: this process's memory.
	Cache cache.Cache
}

// Client calls the mini-program server API of one app.
type Client struct {
	appID string
	base  *url.URL
	mp    *miniprogram.MiniProgram
	cache cache.Cache
}

// New returns a client for cfg and makes sure the transport is installed.
func New(cfg Config) (*Client, error) {
	if cfg.AppID == "" || cfg.Secret == "" {
		return nil, errors.New("wechat: appid and secret are required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	base, err := url.Parse(cfg.APIBase)
	if err != nil || (base.Scheme != "http" && base.Scheme != "https") || base.Host == "" {
		return nil, fmt.Errorf("wechat: api base %q is not an http(s) URL", cfg.APIBase)
	}
	InstallTransport()
	if cfg.Cache == nil {
		cfg.Cache = cache.NewMemory()
	}
	mp := miniprogram.NewMiniProgram(&mpconfig.Config{
		AppID: cfg.AppID, AppSecret: cfg.Secret, Cache: cfg.Cache,
	})
	return &Client{appID: cfg.AppID, base: base, mp: mp, cache: cfg.Cache}, nil
}

// AppID returns the mini-program's AppID.
func (c *Client) AppID() string { return c.appID }

func (c *Client) ctx(ctx context.Context) context.Context {
	return context.WithValue(ctx, baseKey{}, c.base)
}

// Session is what code2session answers for a login code.
type Session struct {
	OpenID     string
	UnionID    string
	SessionKey string
}

// Code2Session exchanges a wx.login code for the user's openid (and unionid
// when the app belongs to an open platform account). Refusals come back as
// *apperr.Error: invalid_code, login_blocked, rate_limited or
// upstream_unavailable; anything else the platform says is upstream_error.
func (c *Client) Code2Session(ctx context.Context, code string) (Session, error) {
	res, err := c.mp.GetAuth().Code2SessionContext(c.ctx(ctx), code)
	if res.ErrCode != 0 {
		return Session{}, MapErrCode(res.ErrCode, res.ErrMsg)
	}
	if err != nil {
		return Session{}, apperr.New(apperr.CodeUpstreamUnavailable, "WeChat could not be reached; try again").WithCause(scrub(err))
	}
	if res.OpenID == "" {
		return Session{}, apperr.New(apperr.CodeUpstreamError, "WeChat answered without an openid")
	}
	return Session{OpenID: res.OpenID, UnionID: res.UnionID, SessionKey: res.SessionKey}, nil
}

// AccessToken returns the app's access token (cached until shortly before it
// expires), for server APIs such as the shipping-info upload.
func (c *Client) AccessToken(ctx context.Context) (string, error) {
	tok, err := c.mp.GetContext().GetAccessTokenContext(c.ctx(ctx))
	if err != nil {
		return "", apperr.New(apperr.CodeUpstreamUnavailable, "could not get a WeChat access token").WithCause(scrub(err))
	}
	return tok, nil
}

// MapErrCode turns a WeChat errcode into minimall's error kinds.
func MapErrCode(code int64, msg string) *apperr.Error {
	cause := fmt.Errorf("wechat errcode=%d errmsg=%s", code, msg)
	switch code {
	case ErrCodeInvalidCode, ErrCodeCodeUsed:
		return apperr.New(apperr.CodeInvalidCode, "the login code is invalid or used; call wx.login again").WithCause(cause)
	case ErrCodeHighRisk:
		return apperr.New(apperr.CodeLoginBlocked, "WeChat blocked this login as high-risk").WithCause(cause)
	case ErrCodeRateLimited:
		return apperr.New(apperr.CodeRateLimited, "too many login attempts; wait a minute").WithCause(cause)
	case ErrCodeBusy:
		return apperr.New(apperr.CodeUpstreamUnavailable, "WeChat is busy; try again").WithCause(cause)
	default:
		return apperr.New(apperr.CodeUpstreamError, "WeChat refused the request").WithCause(cause)
	}
}
