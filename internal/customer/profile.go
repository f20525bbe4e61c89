package customer

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// MaxNickname is the longest nickname, in characters.
const MaxNickname = 32

// maxAvatarURL matches the avatar_url column.
const maxAvatarURL = 512

// Avatars tells whether a URL is an image this customer uploaded to the
// shop (*media.Service). WeChat and Alipay no longer hand the server a
// profile picture: the mini-program asks the user for one (chooseAvatar),
// uploads it, and sets the answer's URL here, so anything else (a link to
// another site, another buyer's photo) is refused.
type Avatars interface {
	CheckCustomerImages(ctx context.Context, customerID int64, field string, urls []string) error
}

// ProfilePatch holds the fields of a profile change; nil leaves a field.
type ProfilePatch struct {
	Nickname  *string
	AvatarURL *string
}

// Profiles changes customers' own profiles.
type Profiles struct {
	store   *Store
	clock   clock.Clock
	avatars Avatars
}

// NewProfiles returns the profile service; avatars decides which avatar
// URLs are the customer's own uploads.
func NewProfiles(store *Store, clk clock.Clock, avatars Avatars) (*Profiles, error) {
	if store == nil || clk == nil || avatars == nil {
		return nil, errNilDependency
	}
	return &Profiles{store: store, clock: clk, avatars: avatars}, nil
}

// Update validates and writes the patched fields only, and returns the
// profile as stored. A nickname is trimmed, 1 to 32 characters, without
// control characters; an avatar URL is one of the customer's uploads, or ""
// to remove it.
func (p *Profiles) Update(ctx context.Context, id int64, patch ProfilePatch) (Profile, error) {
	cols := map[string]any{}
	if patch.Nickname != nil {
		n := strings.TrimSpace(*patch.Nickname)
		switch {
		case n == "" || !utf8.ValidString(n):
			return Profile{}, apperr.Invalid("nickname must not be empty", "nickname")
		case utf8.RuneCountInString(n) > MaxNickname:
			return Profile{}, apperr.Invalid("nickname must be at most 32 characters", "nickname")
		case strings.IndexFunc(n, unicode.IsControl) >= 0:
			return Profile{}, apperr.Invalid("nickname must not contain control characters", "nickname")
		}
		cols["nickname"] = n
	}
	if patch.AvatarURL != nil {
		a := *patch.AvatarURL
		if len(a) > maxAvatarURL {
			return Profile{}, apperr.Invalid("avatar_url must be an image uploaded to this shop", "avatar_url")
		}
		if a != "" {
			if err := p.avatars.CheckCustomerImages(ctx, id, "avatar_url", []string{a}); err != nil {
				return Profile{}, apperr.From(err)
			}
		}
		cols["avatar_url"] = a
	}
	if len(cols) == 0 {
		return Profile{}, apperr.Invalid("nothing to change: send nickname or avatar_url")
	}
	cols["updated_at"] = p.clock.Now()
	if err := p.store.updateProfile(ctx, id, cols); err != nil {
		if db.IsNotFound(err) {
			return Profile{}, apperr.NotFound("customer")
		}
		return Profile{}, apperr.Internal(err)
	}
	c, err := p.store.ByID(ctx, id)
	if err != nil {
		return Profile{}, apperr.From(err)
	}
	return c, nil
}
