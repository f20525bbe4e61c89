package customer

import (
	"context"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/wechat"
)

// WeChatLogin exchanges wx.login codes; *wechat.Client implements it.
type WeChatLogin interface {
	AppID() string
	Code2Session(ctx context.Context, code string) (wechat.Session, error)
}

// AlipayLogin exchanges my.getAuthCode codes; *alipay.Client implements it.
type AlipayLogin interface {
	AppID() string
	OAuthToken(ctx context.Context, code string) (alipay.Account, error)
}

// Service logs customers in through the mini-programs and keeps them
// logged in with rotating refresh tokens.
type Service struct {
	db      *db.DB
	store   *Store
	tokens  *auth.Tokens
	refresh *auth.RefreshTokens
	clock   clock.Clock
	wechat  WeChatLogin
	alipay  AlipayLogin
}

// NewService returns the login service. wechat and alipay may be nil
// when that channel is not configured; logging in through it then answers
// channel_unavailable.
func NewService(d *db.DB, store *Store, tokens *auth.Tokens, refresh *auth.RefreshTokens, clk clock.Clock,
	wc WeChatLogin, ali AlipayLogin) (*Service, error) {
	if d == nil || store == nil || tokens == nil || refresh == nil || clk == nil {
		return nil, errNilDependency
	}
	return &Service{db: d, store: store, tokens: tokens, refresh: refresh, clock: clk, wechat: wc, alipay: ali}, nil
}

// Session is the answer to a login or a refresh.
type Session struct {
	AccessToken  string
	RefreshToken string
	ExpiresIn    time.Duration
	CustomerID   int64
	Channel      string
}

// account is a platform's answer for a code, in channel-neutral form.
type account struct {
	channel, appID, kind, subject, unionID string
	linkByUnion                            bool
}

// LoginWeChat logs in with a wx.login code. The platform is asked first;
// nothing is written unless it accepted the code.
func (s *Service) LoginWeChat(ctx context.Context, code string) (Session, error) {
	if err := checkLoginCode(code); err != nil {
		return Session{}, err
	}
	if s.wechat == nil {
		return Session{}, apperr.New(apperr.CodeChannelUnavailable, "WeChat login is not configured")
	}
	sess, err := s.wechat.Code2Session(ctx, code)
	if err != nil {
		return Session{}, err
	}
	return s.login(ctx, account{
		channel: ChannelWeChat, appID: s.wechat.AppID(), kind: KindWeChatOpenID,
		subject: sess.OpenID, unionID: sess.UnionID, linkByUnion: true,
	})
}

// LoginAlipay logs in with a my.getAuthCode code (scope auth_base), for apps
// that receive user_id as well as for open_id apps.
func (s *Service) LoginAlipay(ctx context.Context, code string) (Session, error) {
	if err := checkLoginCode(code); err != nil {
		return Session{}, err
	}
	if s.alipay == nil {
		return Session{}, apperr.New(apperr.CodeChannelUnavailable, "Alipay login is not configured")
	}
	acc, err := s.alipay.OAuthToken(ctx, code)
	if err != nil {
		return Session{}, err
	}
	kind := KindAlipayUserID
	if acc.Kind == alipay.KindOpenID {
		kind = KindAlipayOpenID
	}
	return s.login(ctx, account{
		channel: ChannelAlipay, appID: s.alipay.AppID(), kind: kind, subject: acc.Subject, unionID: acc.UnionID,
	})
}

// login finds or creates the customer of an accepted account and starts a
// refresh token family, in one transaction. When a concurrent first login of
// the same account wins the unique key, the transaction runs again
// (db.LostRace) and finds the winner's identity.
func (s *Service) login(ctx context.Context, acc account) (Session, error) {
	if acc.subject == "" {
		return Session{}, apperr.New(apperr.CodeUpstreamError, "the platform answered without a user id")
	}
	var customerID int64
	var refresh string
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		var err error
		if customerID, err = s.findOrCreate(ctx, acc); err != nil {
			return db.LostRace(err)
		}
		refresh, err = s.refresh.Issue(ctx, customerID, acc.channel)
		return err
	})
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	return s.session(customerID, acc.channel, refresh)
}

func (s *Service) findOrCreate(ctx context.Context, acc account) (int64, error) {
	now := s.clock.Now()
	id, err := s.store.IdentityBySubject(ctx, acc.channel, acc.appID, acc.subject)
	if err == nil {
		return id.CustomerID, s.store.touchIdentity(ctx, id.ID, acc.unionID, now)
	}
	if !db.IsNotFound(err) {
		return 0, err
	}
	var customerID int64
	if acc.linkByUnion && acc.unionID != "" {
		if customerID, err = s.store.customerIDByUnion(ctx, acc.channel, acc.unionID); err != nil {
			return 0, err
		}
	}
	if customerID == 0 {
		if customerID, err = s.store.Insert(ctx, now); err != nil {
			return 0, err
		}
	}
	_, err = s.store.insertIdentity(ctx, Identity{
		CustomerID: customerID, Channel: acc.channel, AppID: acc.appID, SubjectKind: acc.kind,
		Subject: acc.subject, UnionID: acc.unionID, CreatedAt: now, LastLoginAt: now,
	})
	return customerID, err
}

func (s *Service) session(customerID int64, channel, refresh string) (Session, error) {
	access, ttl, err := s.tokens.IssueCustomer(customerID, channel)
	if err != nil {
		return Session{}, apperr.Internal(err)
	}
	return Session{AccessToken: access, RefreshToken: refresh, ExpiresIn: ttl, CustomerID: customerID, Channel: channel}, nil
}

// Refresh rotates a refresh token and issues a new access token. A reused
// token answers refresh_reused and ends every session of that login.
func (s *Service) Refresh(ctx context.Context, token string) (Session, error) {
	if token == "" {
		return Session{}, apperr.Invalid("refresh_token is required", "refresh_token")
	}
	r, err := s.refresh.Rotate(ctx, token)
	if err != nil {
		return Session{}, err
	}
	return s.session(r.CustomerID, r.Channel, r.Token)
}

// WeChatOpenID returns the customer's openid in the configured
// mini-program, the user WeChat's content checks are asked about; "" when
// the customer has no identity there or WeChat is not configured.
func (s *Service) WeChatOpenID(ctx context.Context, customerID int64) (string, error) {
	if s.wechat == nil {
		return "", nil
	}
	ids, err := s.store.Identities(ctx, customerID, ChannelWeChat)
	if err != nil {
		return "", apperr.Internal(err)
	}
	for _, id := range ids {
		if id.AppID == s.wechat.AppID() {
			return id.Subject, nil
		}
	}
	return "", nil
}

// Profile returns a customer's profile.
func (s *Service) Profile(ctx context.Context, id int64) (Profile, error) {
	c, err := s.store.ByID(ctx, id)
	if db.IsNotFound(err) {
		return Profile{}, apperr.NotFound("customer")
	}
	if err != nil {
		return Profile{}, apperr.Internal(err)
	}
	return c, nil
}
