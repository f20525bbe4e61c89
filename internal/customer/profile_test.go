package customer_test

import (
	"bytes"
	"context"
	"image"
	"image/png"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/media"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func ptr(s string) *string { return &s }

func TestProfileUpdate(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
		store, err := customer.NewStore(d)
		if err != nil {
			t.Fatal(err)
		}
		dir, err := media.NewDir(filepath.Join(t.TempDir(), "media"))
		if err != nil {
			t.Fatal(err)
		}
		mstore, err := media.NewStore(d)
		if err != nil {
			t.Fatal(err)
		}
		images, err := media.NewService(d, mstore, dir, clk, media.Config{PublicBaseURL: "https://shop.example.com/media"})
		if err != nil {
			t.Fatal(err)
		}
		profiles, err := customer.NewProfiles(store, clk, images)
		if err != nil {
			t.Fatal(err)
		}
		id, err := store.Insert(ctx, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		other, err := store.Insert(ctx, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		upload := func(who int64, shade uint8) string {
			var b bytes.Buffer
			img := image.NewGray(image.Rect(0, 0, 4, 4))
			for i := range img.Pix {
				img.Pix[i] = shade
			}
			if err := png.Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			up, err := images.Upload(ctx, media.Uploader{Kind: media.UploaderCustomer, ID: who}, &b)
			if err != nil {
				t.Fatal(err)
			}
			return up.URL
		}
		avatar := upload(id, 10)
		othersPhoto := upload(other, 20)
		got, err := profiles.Update(ctx, id, customer.ProfilePatch{Nickname: ptr("  小明  "), AvatarURL: ptr(avatar)})
		if err != nil {
			t.Fatal(err)
		}
		if got.Nickname != "小明" || got.AvatarURL != avatar {
			t.Fatalf("profile = %+v, want nickname 小明 and the avatar", got)
		}
		// A patch of one field leaves the other.
		if got, err = profiles.Update(ctx, id, customer.ProfilePatch{Nickname: ptr(strings.Repeat("名", 32))}); err != nil {
			t.Fatal(err)
		}
		if got.AvatarURL != avatar {
			t.Fatalf("avatar = %q after a nickname change, want it kept", got.AvatarURL)
		}
		if got, err = profiles.Update(ctx, id, customer.ProfilePatch{AvatarURL: ptr("")}); err != nil || got.AvatarURL != "" {
			t.Fatalf("clearing the avatar: %+v %v", got, err)
		}

		for _, tc := range []struct {
			name  string
			patch customer.ProfilePatch
			code  apperr.Code
		}{
			{"33 characters", customer.ProfilePatch{Nickname: ptr(strings.Repeat("名", 33))}, apperr.CodeInvalid},
			{"blank nickname", customer.ProfilePatch{Nickname: ptr("   ")}, apperr.CodeInvalid},
			{"control character", customer.ProfilePatch{Nickname: ptr("a\u0007b")}, apperr.CodeInvalid},
			{"another buyer's upload", customer.ProfilePatch{AvatarURL: ptr(othersPhoto)}, apperr.CodeInvalid},
			{"never uploaded", customer.ProfilePatch{AvatarURL: ptr("https://shop.example.com/media/" + strings.Repeat("ab", 32) + ".png")}, apperr.CodeInvalid},
			{"another site", customer.ProfilePatch{AvatarURL: ptr("https://evil.example.com/media/x.jpg")}, apperr.CodeInvalid},
			{"prefix trick", customer.ProfilePatch{AvatarURL: ptr("https://shop.example.com/media.evil.com/x.jpg")}, apperr.CodeInvalid},
			{"dot segments", customer.ProfilePatch{AvatarURL: ptr("https://shop.example.com/media/../admin.jpg")}, apperr.CodeInvalid},
			{"query", customer.ProfilePatch{AvatarURL: ptr("https://shop.example.com/media/x.jpg?u=https://evil")}, apperr.CodeInvalid},
			{"the base itself", customer.ProfilePatch{AvatarURL: ptr("https://shop.example.com/media/")}, apperr.CodeInvalid},
			{"nothing", customer.ProfilePatch{}, apperr.CodeInvalid},
		} {
			_, err := profiles.Update(ctx, id, tc.patch)
			if !apperr.Is(err, tc.code) {
				t.Errorf("%s: err = %v, want %s", tc.name, err, tc.code)
			}
		}
		if _, err := profiles.Update(ctx, id+1000, customer.ProfilePatch{Nickname: ptr("x")}); !apperr.Is(err, apperr.CodeNotFound) {
			t.Errorf("unknown customer: err = %v, want not_found", err)
		}
		p, err := store.ByID(ctx, id)
		if err != nil || p.Nickname != strings.Repeat("名", 32) || p.AvatarURL != "" {
			t.Fatalf("stored = %+v %v", p, err)
		}
	})
}
