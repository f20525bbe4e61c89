// Package media takes image uploads from customers and staff and keeps them
// on a local directory or an S3-compatible object store.
//
// The rules:
//   - An upload is accepted by its content, never its name or declared type:
//     JPEG, PNG or WebP, at most Config.MaxBytes and Config.MaxSide pixels a
//     side. Only the header is read before the size is checked, so a small
//     file declaring a huge image is refused before any pixel is decoded.
//   - Every accepted image is decoded and encoded again, so no metadata
//     (EXIF with a buyer's GPS position) is ever stored or served.
//   - Objects are named by the SHA-256 of their stored bytes: the same
//     picture is stored once, and its URL never changes meaning.
//   - A URL is one this shop issued when its key has a media_objects row.
//     Product and review images accept only such URLs (staff also accept
//     allow-listed hosts), so nobody can hot-link arbitrary content into the
//     shop.
//   - A customer may upload Config.DailyLimit images per Beijing day, counted
//     by a guarded increment; over it the upload answers rate_limited with
//     the seconds until the next day.
//   - Decoding runs at most Config.Concurrency at a time, bounding the memory
//     uploads can take (a 4096×4096 image decodes to 64 MiB).
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

// Defaults of Config.
const (
	DefaultMaxBytes    = 5 << 20
	DefaultMaxSide     = 4096
	DefaultDailyLimit  = 100
	DefaultConcurrency = 2
)

// Uploader kinds.
const (
	UploaderCustomer = "customer"
	UploaderStaff    = "staff"
)

// beijing is the day boundary of the daily limit (UTC+8, no daylight saving).
var beijing = time.FixedZone("CST", 8*3600)

// Config holds the upload rules.
type Config struct {
	// MaxBytes bounds an uploaded file.
	MaxBytes int64
	// MaxSide bounds the width and the height in pixels.
	MaxSide int
	// DailyLimit bounds a customer's uploads per Beijing day; staff have none.
	DailyLimit int
	// PublicBaseURL is where objects are served: key k is at
	// PublicBaseURL + "/" + k (the binary's /media/, or a CDN in front of a
	// bucket).
	PublicBaseURL string
	// AllowedHosts are hosts whose image URLs staff may use in the catalog
	// besides the shop's own uploads (e.g. an existing image CDN).
	AllowedHosts []string
	// Concurrency bounds the decodes running at once.
	Concurrency int
}

func (c *Config) defaults() error {
	if c.MaxBytes == 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.MaxSide == 0 {
		c.MaxSide = DefaultMaxSide
	}
	if c.DailyLimit == 0 {
		c.DailyLimit = DefaultDailyLimit
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	u, err := url.Parse(c.PublicBaseURL)
	switch {
	case c.MaxBytes < 0 || c.MaxSide < 0 || c.DailyLimit < 0 || c.Concurrency < 0:
		return errors.New("media: negative limit")
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		return fmt.Errorf("media: public base URL %q is not an http(s) URL", c.PublicBaseURL)
	}
	c.PublicBaseURL = strings.TrimRight(c.PublicBaseURL, "/")
	return nil
}

// Uploader is who uploads: a customer or a staff member.
type Uploader struct {
	Kind string
	ID   int64
}

// Image is a stored image as the API answers it.
type Image struct {
	URL         string
	Key         string
	ContentType string
	Width       int
	Height      int
	Bytes       int64
}

// Service takes uploads and answers whether URLs are the shop's own.
type Service struct {
	db      *db.DB
	store   *Store
	storage Storage
	clock   clock.Clock
	cfg     Config
	decodes chan struct{}
}

// NewService returns the media service.
func NewService(d *db.DB, store *Store, storage Storage, clk clock.Clock, cfg Config) (*Service, error) {
	if d == nil || store == nil || storage == nil || clk == nil {
		return nil, errors.New("media: nil dependency")
	}
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Service{db: d, store: store, storage: storage, clock: clk, cfg: cfg,
		decodes: make(chan struct{}, cfg.Concurrency)}, nil
}

// MaxBytes returns the file size limit, for the handlers' body limit.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

// URL returns where the object key is served.
func (s *Service) URL(key string) string { return s.cfg.PublicBaseURL + "/" + key }

// day returns the Beijing day of t and the time the next one starts.
func day(t time.Time) (string, time.Time) {
	b := t.In(beijing)
	next := time.Date(b.Year(), b.Month(), b.Day()+1, 0, 0, 0, 0, beijing)
	return b.Format("2006-01-02"), next
}

// rateLimited is the answer to a customer over the daily limit.
func (s *Service) rateLimited(now time.Time) error {
	_, next := day(now)
	secs := int64(next.Sub(now).Seconds()) + 1
	return apperr.New(apperr.CodeRateLimited, "at most %d images a day may be uploaded; try again tomorrow", s.cfg.DailyLimit).
		WithDetail("retry_after_seconds", secs)
}

// Upload reads one file from r, checks and re-encodes it, stores it and
// records the upload. Refusals are invalid_argument (not an accepted image),
// payload_too_large and rate_limited; nothing is stored then. The format is
// the content's; Upload makes no claim about it (see UploadAs).
func (s *Service) Upload(ctx context.Context, who Uploader, r io.Reader) (Image, error) {
	return s.UploadAs(ctx, who, r, "")
}

// UploadAs is Upload for a file whose sender claims a format (FormatJPEG,
// FormatPNG or FormatWebP, from its name or declared type; see Claimed): a
// file whose content is another format is refused as invalid_argument, so a
// PNG named photo.jpg or an HTML page named x.png never becomes an image
// under a name that lies about it. An empty claim accepts any format.
func (s *Service) UploadAs(ctx context.Context, who Uploader, r io.Reader, claimed string) (Image, error) {
	if who.ID <= 0 || (who.Kind != UploaderCustomer && who.Kind != UploaderStaff) {
		return Image{}, apperr.Internal(fmt.Errorf("media: bad uploader %+v", who))
	}
	now := s.clock.Now()
	dayKey, _ := day(now)
	if who.Kind == UploaderCustomer {
		used, err := s.store.quotaUsed(ctx, who.ID, dayKey)
		if err != nil {
			return Image{}, apperr.From(err)
		}
		if used >= s.cfg.DailyLimit {
			return Image{}, s.rateLimited(now)
		}
	}
	b, err := io.ReadAll(io.LimitReader(r, s.cfg.MaxBytes+1))
	if err != nil {
		return Image{}, apperr.Invalid("could not read the file", "file").WithCause(err)
	}
	if int64(len(b)) > s.cfg.MaxBytes {
		return Image{}, apperr.New(apperr.CodePayloadTooLarge, "the image is larger than %d bytes", s.cfg.MaxBytes)
	}
	select {
	case s.decodes <- struct{}{}:
	case <-ctx.Done():
		return Image{}, apperr.From(ctx.Err())
	}
	p, err := process(b, s.cfg.MaxSide, claimed)
	<-s.decodes
	if err != nil {
		return Image{}, apperr.From(err)
	}
	img := Image{Key: p.key(), ContentType: p.contentType, Width: p.width, Height: p.height, Bytes: int64(len(p.body))}
	img.URL = s.URL(img.Key)
	// The object is written before the row that makes its URL valid: a
	// failure in between leaves an unreferenced object, never a URL without
	// bytes.
	if err := s.storage.Put(ctx, img.Key, p.body, p.contentType); err != nil {
		return Image{}, apperr.New(apperr.CodeUpstreamUnavailable, "the image could not be stored; try again").WithCause(err)
	}
	err = s.db.TxRetry(ctx, func(ctx context.Context) error {
		if who.Kind == UploaderCustomer {
			ok, err := s.store.takeQuota(ctx, who.ID, dayKey, s.cfg.DailyLimit)
			if err != nil {
				return err
			}
			if !ok {
				return s.rateLimited(now)
			}
		}
		objectID, err := s.store.ensureObject(ctx, img, now)
		if err != nil {
			return err
		}
		return s.store.insertUpload(ctx, objectID, who, now)
	})
	if err != nil {
		return Image{}, apperr.From(err)
	}
	return img, nil
}

// keyOf returns the object key of a URL under the public base, or "".
func (s *Service) keyOf(raw string) string {
	k, ok := strings.CutPrefix(raw, s.cfg.PublicBaseURL+"/")
	if !ok || !validKey(k) {
		return ""
	}
	return k
}

// CheckIssued refuses, naming field, any URL that is not an image this shop
// issued. Review images use it.
func (s *Service) CheckIssued(ctx context.Context, field string, urls []string) error {
	return s.check(ctx, field, urls, false)
}

// CheckCustomerImages refuses, naming field, any URL that is not an image
// this customer uploaded: a review's photos and an avatar are the author's
// own, never another buyer's picture picked from a public page.
func (s *Service) CheckCustomerImages(ctx context.Context, customerID int64, field string, urls []string) error {
	keys := make([]string, 0, len(urls))
	for _, raw := range urls {
		k := s.keyOf(raw)
		if k == "" {
			return apperr.Invalid(field+" must be images you uploaded to this shop", field).WithDetail("url", raw)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil
	}
	own, err := s.store.uploadedBy(ctx, Uploader{Kind: UploaderCustomer, ID: customerID}, keys)
	if err != nil {
		return apperr.From(err)
	}
	for _, k := range keys {
		if !own[k] {
			return apperr.Invalid(field+" must be images you uploaded to this shop", field).WithDetail("url", s.URL(k))
		}
	}
	return nil
}

// CheckStaffImages refuses any URL that is neither an image this shop issued
// nor on an allow-listed host. Catalog writes use it.
func (s *Service) CheckStaffImages(ctx context.Context, field string, urls []string) error {
	return s.check(ctx, field, urls, true)
}

func (s *Service) check(ctx context.Context, field string, urls []string, allowHosts bool) error {
	keys := make([]string, 0, len(urls))
	for _, raw := range urls {
		if allowHosts && s.allowedHost(raw) {
			continue
		}
		k := s.keyOf(raw)
		if k == "" {
			return apperr.Invalid(field+" must be images uploaded to this shop", field).WithDetail("url", raw)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil
	}
	known, err := s.store.knownKeys(ctx, keys)
	if err != nil {
		return apperr.From(err)
	}
	for _, k := range keys {
		if !known[k] {
			return apperr.Invalid(field+" must be images uploaded to this shop", field).WithDetail("url", s.URL(k))
		}
	}
	return nil
}

func (s *Service) allowedHost(raw string) bool {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
		return false
	}
	for _, h := range s.cfg.AllowedHosts {
		if strings.EqualFold(u.Host, h) {
			return true
		}
	}
	return false
}
