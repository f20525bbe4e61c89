package httpx

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
)

// DecodeJSON reads the request body into v, refusing unknown fields, trailing
// data and bodies over the configured limit. Errors name the offending field.
func DecodeJSON(c *gin.Context, v any) error {
	if !isJSONContentType(c.GetHeader("Content-Type")) {
		return apperr.Invalid("request body must be JSON (Content-Type: application/json)")
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return apperr.New(apperr.CodePayloadTooLarge, "request body is larger than %d bytes", mbe.Limit)
		}
		return apperr.Invalid("could not read the request body")
	}
	return decodeBytes(body, v)
}

// isJSONContentType accepts no Content-Type at all (some mini-program and
// command-line clients send none with a JSON body), application/json and
// any +json type; a form or multipart body is refused before it is parsed,
// so the client hears what is wrong rather than "malformed JSON".
func isJSONContentType(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

func decodeBytes(body []byte, v any) error {
	// A literal null decodes into any struct without an error and would
	// read as "no fields sent"; every request body is an object.
	if trimmed := bytes.TrimSpace(body); len(trimmed) == 0 || bytes.Equal(trimmed, []byte("null")) {
		return apperr.Invalid("request body must be a JSON object")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		var syn *json.SyntaxError
		var typ *json.UnmarshalTypeError
		switch {
		case errors.As(err, &syn):
			return apperr.Invalid("malformed JSON at offset " + strconv.FormatInt(syn.Offset, 10))
		case errors.As(err, &typ):
			field := typ.Field
			if field == "" {
				return apperr.Invalid("request body must be a JSON object")
			}
			return apperr.Invalid("field "+field+" must be "+jsonKind(typ.Type.Kind().String()), field)
		case strings.HasPrefix(err.Error(), "json: unknown field "):
			field := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
			return apperr.Invalid("unknown field "+field, field)
		default:
			return apperr.Invalid("malformed JSON")
		}
	}
	if dec.More() {
		return apperr.Invalid("request body must hold one JSON value")
	}
	return nil
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int8", "int16", "int32", "int64", "uint", "uint8", "uint16", "uint32", "uint64":
		return "an integer"
	case "float32", "float64":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}

// ParamID reads a positive integer path parameter.
func ParamID(c *gin.Context, name string) (int64, error) {
	id, err := strconv.ParseInt(c.Param(name), 10, 64)
	if err != nil || id <= 0 {
		return 0, apperr.Invalid(name+" must be a positive integer", name)
	}
	return id, nil
}

// Page is a validated page request.
type Page struct {
	Page     int `json:"page"`
	PageSize int `json:"page_size"`
}

// Offset is the number of rows before the page.
func (p Page) Offset() int { return (p.Page - 1) * p.PageSize }

// MaxPageSize bounds page_size.
const MaxPageSize = 100

// ParsePage reads ?page=&page_size= (defaults 1 and 20, at most 100 a page).
func ParsePage(c *gin.Context) (Page, error) {
	p := Page{Page: 1, PageSize: 20}
	if s := c.Query("page"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 100000 {
			return p, apperr.Invalid("page must be a positive integer", "page")
		}
		p.Page = n
	}
	if s := c.Query("page_size"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > MaxPageSize {
			return p, apperr.Invalid("page_size must be between 1 and 100", "page_size")
		}
		p.PageSize = n
	}
	return p, nil
}

// List is the envelope of every paged list.
type List[T any] struct {
	Items    []T   `json:"items"`
	Total    int64 `json:"total"`
	Page     int   `json:"page"`
	PageSize int   `json:"page_size"`
}

// NewList builds a page envelope; a nil slice is sent as [].
func NewList[T any](items []T, total int64, p Page) List[T] {
	if items == nil {
		items = []T{}
	}
	return List[T]{Items: items, Total: total, Page: p.Page, PageSize: p.PageSize}
}
