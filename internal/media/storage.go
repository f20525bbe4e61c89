package media

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

// Storage keeps the bytes of stored images. Keys are content hashes, so
// writing a key twice writes the same bytes: Put may be repeated freely.
type Storage interface {
	// Put stores body under key with its content type.
	Put(ctx context.Context, key string, body []byte, contentType string) error
}

// Dir stores images as files in a local directory, which the binary serves
// under /media/ (Handlers.Serve). It is the default and demo-mode storage;
// several instances need a shared directory or an object store.
type Dir struct {
	root string
}

// NewDir returns a directory storage rooted at root; the directory is
// created with the first image stored.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("media: empty media directory")
	}
	return &Dir{root: root}, nil
}

// Root returns the directory.
func (d *Dir) Root() string { return d.root }

// Put writes the file through a temporary file and a rename, so a reader
// never sees half an image and a crash leaves no partial object.
func (d *Dir) Put(_ context.Context, key string, body []byte, _ string) error {
	if !validKey(key) {
		return fmt.Errorf("media: invalid key %q", key)
	}
	path := filepath.Join(d.root, key)
	if _, err := os.Stat(path); err == nil {
		return nil
	}
	if err := os.MkdirAll(d.root, 0o755); err != nil {
		return fmt.Errorf("media: create %s: %w", d.root, err)
	}
	tmp, err := os.CreateTemp(d.root, ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// S3Config reaches an S3-compatible object store (Aliyun OSS, Tencent COS,
// MinIO, AWS S3).
type S3Config struct {
	// Endpoint is the store's URL, e.g. https://oss-cn-hangzhou.aliyuncs.com.
	Endpoint  string
	Bucket    string
	AccessKey string
	SecretKey string
	// Region is optional; most stores infer it.
	Region string
	// PathStyle addresses the bucket in the path instead of the host name
	// (MinIO and most self-hosted stores; OSS and COS use host names).
	PathStyle bool
	// Transport replaces the HTTP transport (tests).
	Transport http.RoundTripper
}

// S3 stores images in a bucket through minio-go, which speaks the S3 API
// (signature v4) that every S3-compatible store accepts.
type S3 struct {
	client *minio.Client
	bucket string
}

// NewS3 returns an S3 storage; it does not contact the store.
func NewS3(cfg S3Config) (*S3, error) {
	u, err := url.Parse(cfg.Endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("media: s3 endpoint %q is not an http(s) URL", cfg.Endpoint)
	}
	if cfg.Bucket == "" || cfg.AccessKey == "" || cfg.SecretKey == "" {
		return nil, errors.New("media: s3 needs a bucket, an access key and a secret key")
	}
	lookup := minio.BucketLookupAuto
	if cfg.PathStyle {
		lookup = minio.BucketLookupPath
	}
	c, err := minio.New(u.Host, &minio.Options{
		Creds:        credentials.NewStaticV4(cfg.AccessKey, cfg.SecretKey, ""),
		Secure:       u.Scheme == "https",
		Region:       cfg.Region,
		BucketLookup: lookup,
		Transport:    cfg.Transport,
		MaxRetries:   3,
	})
	if err != nil {
		return nil, fmt.Errorf("media: s3 client: %w", err)
	}
	return &S3{client: c, bucket: cfg.Bucket}, nil
}

// Put uploads the object with a long cache lifetime: a key's bytes never
// change.
func (s *S3) Put(ctx context.Context, key string, body []byte, contentType string) error {
	_, err := s.client.PutObject(ctx, s.bucket, key, bytes.NewReader(body), int64(len(body)), minio.PutObjectOptions{
		ContentType:      contentType,
		CacheControl:     "public, max-age=31536000, immutable",
		DisableMultipart: true,
	})
	if err != nil {
		return fmt.Errorf("media: s3 put %s: %w", key, err)
	}
	return nil
}

// validKey reports whether key is "<64 hex digits>.jpg" or ".png", the only
// keys this package makes.
func validKey(key string) bool {
	name, ext, ok := strings.Cut(key, ".")
	if !ok || (ext != "jpg" && ext != "png") || len(name) != 64 {
		return false
	}
	for _, r := range name {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}
