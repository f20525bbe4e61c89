// Package customer owns the shop's customers: their identities per channel
// (WeChat openid/unionid, Alipay user_id/open_id), login through the
// mini-programs with rotating refresh tokens, and their profile.
package customer

import (
	"time"

	"github.com/minimall/minimall/internal/apperr"
)

// Login channels: the mini-program a customer logged in through.
const (
	ChannelWeChat = "wechat"
	ChannelAlipay = "alipay"
)

// Subject kinds of an identity: what its subject is on its platform.
const (
	KindWeChatOpenID = "openid"
	KindAlipayUserID = "user_id"
	KindAlipayOpenID = "open_id"
)

// Profile is a person who buys in the shop, whichever channel they use.
type Profile struct {
	ID        int64
	Nickname  string
	AvatarURL string
	CreatedAt time.Time
}

// Identity is one platform account of a customer: a WeChat openid, or an
// Alipay user_id or open_id, within one app.
type Identity struct {
	ID          int64
	CustomerID  int64
	Channel     string
	AppID       string
	SubjectKind string
	Subject     string
	UnionID     string
	CreatedAt   time.Time
	LastLoginAt time.Time
}

// maxCodeLength bounds a login code; real codes are 32 characters.
const maxCodeLength = 128

// checkLoginCode refuses empty, long or oddly shaped codes before they reach
// a platform URL: the WeChat SDK puts the code into the query unescaped.
func checkLoginCode(code string) error {
	if code == "" {
		return apperr.Invalid("code is required", "code")
	}
	if len(code) > maxCodeLength {
		return apperr.Invalid("code is too long", "code")
	}
	for _, r := range code {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return apperr.Invalid("code may hold only letters, digits, '-', '_' and '.'", "code")
		}
	}
	return nil
}
