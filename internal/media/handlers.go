package media

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// multipartOverhead is what a multipart body may add around the file: the
// boundaries and part headers wx.uploadFile and my.uploadFile send, plus
// their extra form fields.
const multipartOverhead = 64 << 10

// Handlers serve the upload routes and, for a local directory, the files.
type Handlers struct {
	svc *Service
	dir *Dir // nil when the objects live in an object store
}

// NewHandlers returns the media handlers; dir may be nil (object store).
func NewHandlers(svc *Service, dir *Dir) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("media: nil service")
	}
	return &Handlers{svc: svc, dir: dir}, nil
}

// BodyLimit is the request body limit of the upload routes.
func (h *Handlers) BodyLimit() int64 { return h.svc.MaxBytes() + multipartOverhead }

// ImageBody is an upload as the API answers it.
type ImageBody struct {
	URL    string `json:"url"`
	Width  int    `json:"width"`
	Height int    `json:"height"`
	Bytes  int64  `json:"bytes"`
}

// Upload serves POST /api/v1/uploads (customer).
func (h *Handlers) Upload(c *gin.Context) {
	h.upload(c, Uploader{Kind: UploaderCustomer, ID: auth.CustomerID(c)})
}

// AdminUpload serves POST /api/v1/admin/uploads (staff with catalog write).
func (h *Handlers) AdminUpload(c *gin.Context) {
	h.upload(c, Uploader{Kind: UploaderStaff, ID: auth.StaffID(c)})
}

// upload streams the multipart part named "file" to the service without
// buffering the rest of the form.
func (h *Handlers) upload(c *gin.Context, who Uploader) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "multipart/form-data" || params["boundary"] == "" {
		httpx.Error(c, apperr.Invalid("the body must be multipart/form-data with a file field", "file"))
		return
	}
	mr := multipart.NewReader(c.Request.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				httpx.Error(c, apperr.New(apperr.CodePayloadTooLarge, "the upload is larger than %d bytes", h.svc.MaxBytes()))
				return
			}
			httpx.Error(c, apperr.Invalid("the form has no file field", "file"))
			return
		}
		if part.FormName() != "file" {
			_, _ = io.Copy(io.Discard, part)
			continue
		}
		img, err := h.svc.UploadAs(c.Request.Context(), who, part, Claimed(part.FileName(), part.Header.Get("Content-Type")))
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				err = apperr.New(apperr.CodePayloadTooLarge, "the upload is larger than %d bytes", h.svc.MaxBytes())
			}
			httpx.Error(c, err)
			return
		}
		c.JSON(http.StatusCreated, ImageBody{URL: img.URL, Width: img.Width, Height: img.Height, Bytes: img.Bytes})
		return
	}
}

// Serve serves GET /media/:key from the local directory. Keys are content
// hashes, so a response never changes: it is cacheable for a year. Only
// keys this package makes are served, never a path a client composes.
func (h *Handlers) Serve(c *gin.Context) {
	key := c.Param("key")
	if h.dir == nil || !validKey(key) {
		httpx.Error(c, apperr.NotFound("image"))
		return
	}
	path := filepath.Join(h.dir.Root(), key)
	if _, err := os.Stat(path); err != nil {
		httpx.Error(c, apperr.NotFound("image"))
		return
	}
	ct := "image/jpeg"
	if filepath.Ext(key) == ".png" {
		ct = "image/png"
	}
	c.Header("Content-Type", ct)
	c.Header("X-Content-Type-Options", "nosniff")
	c.Header("Cache-Control", "public, max-age=31536000, immutable")
	http.ServeFile(c.Writer, c.Request, path)
}
