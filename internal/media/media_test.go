package media_test

import (
	"bytes"
	"compress/zlib"
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"hash/crc32"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/media"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const base = "https://shop.example/media"

// photo returns a w×h JPEG with a gradient.
func photo(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			img.Set(x, y, color.RGBA{uint8(x), uint8(y), 128, 255})
		}
	}
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, nil); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func pngOf(t testing.TB, w, h int) []byte {
	t.Helper()
	img := image.NewNRGBA(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = byte(i)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withGPS inserts an APP1 Exif segment after the JPEG's SOI marker: IFD0
// holds the orientation and a pointer to a GPS IFD with a latitude
// reference and a maker note text that must never be served.
func withGPS(jpg []byte, orientation uint16) []byte {
	le := binary.LittleEndian
	var t bytes.Buffer
	t.WriteString("II*\x00")
	_ = binary.Write(&t, le, uint32(8))
	// IFD0 at 8: two entries.
	_ = binary.Write(&t, le, uint16(2))
	_ = binary.Write(&t, le, [6]uint16{0x0112, 3, 1, 0, orientation, 0}) // orientation SHORT
	gpsOff := uint32(8 + 2 + 2*12 + 4)
	_ = binary.Write(&t, le, [2]uint16{0x8825, 4}) // GPS IFD pointer LONG
	_ = binary.Write(&t, le, uint32(1))
	_ = binary.Write(&t, le, gpsOff)
	_ = binary.Write(&t, le, uint32(0))
	// GPS IFD: latitude ref "N" and a text tag with the secret.
	secret := "GPS-HOME-31.2304N-121.4737E\x00"
	_ = binary.Write(&t, le, uint16(2))
	_ = binary.Write(&t, le, [2]uint16{0x0001, 2})
	_ = binary.Write(&t, le, uint32(2))
	t.WriteString("N\x00\x00\x00")
	_ = binary.Write(&t, le, [2]uint16{0x001B, 7}) // GPSProcessingMethod UNDEFINED
	_ = binary.Write(&t, le, uint32(len(secret)))
	_ = binary.Write(&t, le, gpsOff+2+2*12+4)
	_ = binary.Write(&t, le, uint32(0))
	t.WriteString(secret)
	seg := append([]byte("Exif\x00\x00"), t.Bytes()...)
	var out bytes.Buffer
	out.Write(jpg[:2])
	out.Write([]byte{0xFF, 0xE1, byte((len(seg) + 2) >> 8), byte(len(seg) + 2)})
	out.Write(seg)
	out.Write(jpg[2:])
	return out.Bytes()
}

// pngBomb is a small PNG whose header declares w×h pixels: its IDAT holds
// a few compressed rows of zeros.
func pngBomb(w, h uint32) []byte {
	var b bytes.Buffer
	b.WriteString("\x89PNG\r\n\x1a\n")
	chunk := func(typ string, data []byte) {
		_ = binary.Write(&b, binary.BigEndian, uint32(len(data)))
		b.WriteString(typ)
		b.Write(data)
		crc := crc32.NewIEEE()
		crc.Write([]byte(typ))
		crc.Write(data)
		_ = binary.Write(&b, binary.BigEndian, crc.Sum32())
	}
	ihdr := make([]byte, 13)
	binary.BigEndian.PutUint32(ihdr[0:], w)
	binary.BigEndian.PutUint32(ihdr[4:], h)
	ihdr[8], ihdr[9] = 8, 6 // 8-bit RGBA
	chunk("IHDR", ihdr)
	var z bytes.Buffer
	zw := zlib.NewWriter(&z)
	_, _ = zw.Write(make([]byte, 4*int(w)+1))
	_ = zw.Close()
	chunk("IDAT", z.Bytes())
	chunk("IEND", nil)
	return b.Bytes()
}

// WebP samples: 1×1 lossy, 1×1 lossless, and 1×1 with alpha.
var (
	webpLossy = mustB64("UklGRiIAAABXRUJQVlA4IBYAAAAwAQCdASoBAAEADsD+JaQAA3AAAAAA")
	webpAlpha = mustB64("UklGRkoAAABXRUJQVlA4WAoAAAAQAAAAAAAAAAAAQUxQSAwAAAARBxAR/Q9ERP8DAABWUDggGAAAABQBAJ0BKgEAAQAAAP4AAA3AAP7mtQAAAA==")
)

func mustB64(s string) []byte {
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

type env struct {
	svc *media.Service
	dir *media.Dir
	h   *media.Handlers
	clk *clock.Fake
}

func newEnv(t *testing.T, d *db.DB, cfg media.Config) *env {
	t.Helper()
	dir, err := media.NewDir(filepath.Join(t.TempDir(), "media"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, d, dir, cfg)
}

func newEnvOn(t *testing.T, d *db.DB, storage media.Storage, cfg media.Config) *env {
	t.Helper()
	if cfg.PublicBaseURL == "" {
		cfg.PublicBaseURL = base
	}
	st, err := media.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	svc, err := media.NewService(d, st, storage, clk, cfg)
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := storage.(*media.Dir)
	h, err := media.NewHandlers(svc, dir)
	if err != nil {
		t.Fatal(err)
	}
	return &env{svc: svc, dir: dir, h: h, clk: clk}
}

var customer = media.Uploader{Kind: media.UploaderCustomer, ID: 7}

// fetch reads an uploaded image back through GET /media/:key.
func (e *env) fetch(t *testing.T, url string) []byte {
	t.Helper()
	key := strings.TrimPrefix(url, base+"/")
	w := httptest.NewRecorder()
	c, r := ginContext(w, "/media/"+key)
	c.Params = append(c.Params, param("key", key))
	_ = r
	e.h.Serve(c)
	if w.Code != 200 {
		t.Fatalf("GET /media/%s: %d %s", key, w.Code, w.Body.String())
	}
	return w.Body.Bytes()
}

func TestUploadStripsEXIF(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{})
		src := withGPS(photo(t, 40, 20), 6)
		if !bytes.Contains(src, []byte("GPS-HOME")) {
			t.Fatal("fixture has no GPS text")
		}
		img, err := e.svc.Upload(context.Background(), customer, bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		got := e.fetch(t, img.URL)
		for _, bad := range [][]byte{[]byte("Exif"), []byte("GPS-HOME"), {0xFF, 0xE1}} {
			if bytes.Contains(got, bad) {
				t.Errorf("served image still contains %q", bad)
			}
		}
		// Orientation 6 (rotate 90° clockwise) was applied to the pixels.
		cfg, err := jpeg.DecodeConfig(bytes.NewReader(got))
		if err != nil {
			t.Fatal(err)
		}
		if cfg.Width != 20 || cfg.Height != 40 || img.Width != 20 || img.Height != 40 {
			t.Errorf("size = %dx%d (answered %dx%d), want 20x40", cfg.Width, cfg.Height, img.Width, img.Height)
		}
		if !strings.HasPrefix(img.URL, base+"/") || !strings.HasSuffix(img.URL, ".jpg") || img.Bytes != int64(len(got)) {
			t.Errorf("image = %+v, served %d bytes", img, len(got))
		}
	})
}

func TestUploadRefusals(t *testing.T) {
	truncated := photo(t, 64, 64)
	truncated = truncated[:len(truncated)/2]
	cases := []struct {
		name string
		body []byte
		code apperr.Code
	}{
		{"html named png", []byte("<!doctype html><html><script>alert(1)</script></html>"), apperr.CodeInvalid},
		{"empty", nil, apperr.CodeInvalid},
		{"decompression bomb 20000x20000", pngBomb(20000, 20000), apperr.CodeInvalid},
		{"4097 wide", pngBomb(4097, 1), apperr.CodeInvalid},
		{"truncated jpeg", truncated, apperr.CodeInvalid},
		{"gif", []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;"), apperr.CodeInvalid},
		{"over max bytes", append(photo(t, 8, 8), make([]byte, 4096)...), apperr.CodePayloadTooLarge},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{MaxBytes: 4096})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				var before, after runtime.MemStats
				runtime.ReadMemStats(&before)
				_, err := e.svc.Upload(context.Background(), customer, bytes.NewReader(tc.body))
				runtime.ReadMemStats(&after)
				if got := apperr.CodeOf(err); got != tc.code {
					t.Fatalf("code = %s (%v), want %s", got, err, tc.code)
				}
				// A 20000×20000 RGBA decode would take 1.6 GB; the refusal
				// must come from the header alone.
				if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
					t.Errorf("refusal allocated %d bytes", alloc)
				}
			})
		}
		entries, err := os.ReadDir(e.dir.Root())
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if len(entries) != 0 {
			t.Errorf("refused uploads stored %d files", len(entries))
		}
		var n int64
		d.Reader(context.Background()).Table("media_objects").Count(&n)
		if n != 0 {
			t.Errorf("refused uploads recorded %d objects", n)
		}
	})
}

func TestUploadFormats(t *testing.T) {
	cases := []struct {
		name    string
		body    []byte
		wantExt string
		w, h    int
	}{
		// The name a client gives does not matter: a PNG called photo.jpg
		// is stored as the PNG it is.
		{"png (named .jpg by the client)", pngOf(t, 3, 2), ".png", 3, 2},
		{"jpeg", photo(t, 5, 4), ".jpg", 5, 4},
		{"webp without alpha becomes jpeg", webpLossy, ".jpg", 1, 1},
		{"webp with alpha becomes png", webpAlpha, ".png", 1, 1},
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{})
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				img, err := e.svc.Upload(context.Background(), customer, bytes.NewReader(tc.body))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasSuffix(img.URL, tc.wantExt) || img.Width != tc.w || img.Height != tc.h {
					t.Errorf("got %+v, want %s %dx%d", img, tc.wantExt, tc.w, tc.h)
				}
				got := e.fetch(t, img.URL)
				if _, _, err := image.Decode(bytes.NewReader(got)); err != nil {
					t.Errorf("served image does not decode: %v", err)
				}
			})
		}
	})
}

func TestSameImageOneObject(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{})
		src := photo(t, 10, 10)
		a, err := e.svc.Upload(context.Background(), customer, bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		b, err := e.svc.Upload(context.Background(), media.Uploader{Kind: media.UploaderStaff, ID: 1}, bytes.NewReader(src))
		if err != nil {
			t.Fatal(err)
		}
		if a.URL != b.URL {
			t.Errorf("same content, URLs %s and %s", a.URL, b.URL)
		}
		var objects, uploads int64
		d.Reader(context.Background()).Table("media_objects").Count(&objects)
		d.Reader(context.Background()).Table("media_uploads").Count(&uploads)
		if objects != 1 || uploads != 2 {
			t.Errorf("objects, uploads = %d, %d; want 1, 2", objects, uploads)
		}
	})
}

func TestDailyLimit(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{DailyLimit: 2})
		ctx := context.Background()
		for i := 0; i < 2; i++ {
			if _, err := e.svc.Upload(ctx, customer, bytes.NewReader(photo(t, 4+i, 4))); err != nil {
				t.Fatal(err)
			}
		}
		_, err := e.svc.Upload(ctx, customer, bytes.NewReader(photo(t, 9, 4)))
		var ae *apperr.Error
		if !apperrAs(err, &ae) || ae.Code != apperr.CodeRateLimited {
			t.Fatalf("third upload: %v, want rate_limited", err)
		}
		// 02:00 UTC is 10:00 in Beijing: the day ends in 14 hours.
		if secs, _ := ae.Details["retry_after_seconds"].(int64); secs < 14*3600 || secs > 14*3600+1 {
			t.Errorf("retry_after_seconds = %v, want 14h", ae.Details["retry_after_seconds"])
		}
		// Another customer and staff are not affected; the next Beijing day
		// starts a new count.
		if _, err := e.svc.Upload(ctx, media.Uploader{Kind: media.UploaderCustomer, ID: 8}, bytes.NewReader(photo(t, 9, 4))); err != nil {
			t.Errorf("other customer: %v", err)
		}
		if _, err := e.svc.Upload(ctx, media.Uploader{Kind: media.UploaderStaff, ID: 1}, bytes.NewReader(photo(t, 9, 5))); err != nil {
			t.Errorf("staff: %v", err)
		}
		e.clk.Advance(14 * time.Hour)
		if _, err := e.svc.Upload(ctx, customer, bytes.NewReader(photo(t, 9, 6))); err != nil {
			t.Errorf("next day: %v", err)
		}
	})
}

func TestCheckIssued(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{AllowedHosts: []string{"cdn.partner.example"}})
		ctx := context.Background()
		img, err := e.svc.Upload(ctx, customer, bytes.NewReader(photo(t, 6, 6)))
		if err != nil {
			t.Fatal(err)
		}
		unknown := base + "/" + strings.Repeat("ab", 32) + ".jpg"
		cases := []struct {
			name        string
			urls        []string
			review, stf bool // accepted for reviews, for staff
		}{
			{"issued", []string{img.URL}, true, true},
			{"none", nil, true, true},
			{"unknown hash under our base", []string{img.URL, unknown}, false, false},
			{"foreign host", []string{"https://evil.example/x.jpg"}, false, false},
			{"allow-listed host", []string{"https://cdn.partner.example/p/1.jpg"}, false, true},
			{"path traversal", []string{base + "/../etc/passwd"}, false, false},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				if err := e.svc.CheckIssued(ctx, "images", tc.urls); (err == nil) != tc.review {
					t.Errorf("CheckIssued = %v, want accepted %v", err, tc.review)
				}
				if err := e.svc.CheckStaffImages(ctx, "images", tc.urls); (err == nil) != tc.stf {
					t.Errorf("CheckStaffImages = %v, want accepted %v", err, tc.stf)
				}
			})
		}
	})
}

// TestS3Storage stores through minio-go into an in-process S3 server
// (gofakes3) and reads the object back as a CDN would.
func TestS3Storage(t *testing.T) {
	backend := s3mem.New()
	if err := backend.CreateBucket("shop-media"); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(gofakes3.New(backend).Server())
	t.Cleanup(srv.Close)
	s3, err := media.NewS3(media.S3Config{Endpoint: srv.URL, Bucket: "shop-media", AccessKey: "AKIDTEST", SecretKey: "secret-test-key", PathStyle: true})
	if err != nil {
		t.Fatal(err)
	}
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnvOn(t, d, s3, media.Config{PublicBaseURL: "https://cdn.shop.example"})
		img, err := e.svc.Upload(context.Background(), customer, bytes.NewReader(withGPS(photo(t, 12, 8), 1)))
		if err != nil {
			t.Fatal(err)
		}
		key := strings.TrimPrefix(img.URL, "https://cdn.shop.example/")
		client, err := minio.New(strings.TrimPrefix(srv.URL, "http://"), &minio.Options{
			Creds: credentials.NewStaticV4("AKIDTEST", "secret-test-key", ""), BucketLookup: minio.BucketLookupPath})
		if err != nil {
			t.Fatal(err)
		}
		obj, err := client.GetObject(context.Background(), "shop-media", key, minio.GetObjectOptions{})
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		info, _ := obj.Stat()
		if int64(len(got)) != img.Bytes || info.ContentType != "image/jpeg" || bytes.Contains(got, []byte("GPS-HOME")) {
			t.Errorf("object: %d bytes (want %d), type %q, has GPS %v", len(got), img.Bytes, info.ContentType, bytes.Contains(got, []byte("GPS-HOME")))
		}
	})
}

func ginContext(w *httptest.ResponseRecorder, path string) (*gin.Context, *gin.Engine) {
	c, r := gin.CreateTestContext(w)
	c.Request = httptest.NewRequest("GET", path, nil)
	return c, r
}

func param(k, v string) gin.Param { return gin.Param{Key: k, Value: v} }

func apperrAs(err error, target **apperr.Error) bool { return errors.As(err, target) }

func TestClaimedFormat(t *testing.T) {
	cases := []struct{ name, contentType, want string }{
		{"tmp_a1b2.jpg", "application/octet-stream", media.FormatJPEG},
		{"PHOTO.JPEG", "", media.FormatJPEG},
		{"x.png", "image/jpeg", media.FormatPNG}, // the name wins
		{"x.webp", "", media.FormatWebP},
		{"x.gif", "", "gif"},
		{"x.html", "", "html"},
		{"blob", "image/png", media.FormatPNG},
		{"blob", "application/octet-stream", ""},
		{"", "", ""},
		{"archive.tar.gz", "", ""},
	}
	for _, tc := range cases {
		if got := media.Claimed(tc.name, tc.contentType); got != tc.want {
			t.Errorf("Claimed(%q, %q) = %q, want %q", tc.name, tc.contentType, got, tc.want)
		}
	}
}

func TestUploadRefusesAClaimTheContentBelies(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		e := newEnv(t, d, media.Config{})
		cases := []struct {
			name    string
			body    []byte
			claimed string
		}{
			{"png claimed as jpeg", pngOf(t, 3, 2), media.FormatJPEG},
			{"jpeg claimed as png", photo(t, 3, 2), media.FormatPNG},
			{"webp claimed as jpeg", webpLossy, media.FormatJPEG},
			{"jpeg claimed as gif", photo(t, 3, 2), "gif"},
		}
		for _, tc := range cases {
			_, err := e.svc.UploadAs(context.Background(), customer, bytes.NewReader(tc.body), tc.claimed)
			var ae *apperr.Error
			if !apperrAs(err, &ae) || ae.Code != apperr.CodeInvalid {
				t.Errorf("%s: err = %v, want invalid_argument", tc.name, err)
			}
		}
		var n int64
		if err := d.Writer(context.Background()).Table("media_uploads").Count(&n).Error; err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Errorf("%d uploads recorded after refusals", n)
		}
		if _, err := e.svc.UploadAs(context.Background(), customer, bytes.NewReader(pngOf(t, 3, 2)), media.FormatPNG); err != nil {
			t.Errorf("png claimed as png: %v", err)
		}
	})
}
