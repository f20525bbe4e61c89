package httpx_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// fuzzRequest has every kind of field the API's request bodies use:
// strings, integers (money in fen), booleans, pointers for partial updates,
// nested objects, arrays of objects, maps (SKU specs) and raw arrays.
type fuzzRequest struct {
	Name     string            `json:"name"`
	PriceFen int64             `json:"price_fen"`
	Quantity int               `json:"quantity"`
	Selected *bool             `json:"selected"`
	Remark   *string           `json:"remark"`
	Expected *int64            `json:"expected"`
	Specs    map[string]string `json:"specs"`
	Images   []string          `json:"images"`
	Items    []struct {
		SKUID    int64 `json:"sku_id"`
		Quantity int64 `json:"quantity"`
	} `json:"items"`
	Address *struct {
		Phone  string `json:"phone"`
		Detail string `json:"detail"`
	} `json:"address"`
}

// FuzzDecodeJSON drives the one JSON decoder every request body goes through
// (httpx.DecodeJSON; no handler reads a JSON body any other way) with
// arbitrary bodies and content types. Nothing panics; every refusal is
// invalid_argument (or payload_too_large); whatever it accepts is one valid
// JSON object that the standard decoder reads to the same value.
func FuzzDecodeJSON(f *testing.F) {
	gin.SetMode(gin.TestMode)
	for _, s := range []string{
		`{}`, `null`, ``, `[]`, `{"name":"a"}`, `{"name":"a"} {}`, `{"name":"a"}x`,
		`{"price_fen":1.5}`, `{"price_fen":"1"}`, `{"price_fen":9223372036854775808}`,
		`{"unknown":1}`, `{"items":[{"sku_id":1,"quantity":2}]}`, `{"items":[{"sku":1}]}`,
		`{"specs":{"color":"红"}}`, `{"selected":null,"remark":"\u0000"}`, `{"address":{"phone":13800000000}}`,
		`{"name":"\ud800"}`, `{"Name":"case"}`, `{"name":"a","name":"b"}`, "\xef\xbb\xbf{}", `{"images":[1]}`,
	} {
		f.Add([]byte(s), "application/json")
	}
	f.Add([]byte(`{}`), "text/plain")
	f.Add([]byte(`{}`), "application/merge-patch+json")
	f.Add([]byte(`{}`), "application/json; charset=utf-8; x=\"")
	f.Fuzz(func(t *testing.T, body []byte, contentType string) {
		w := httptest.NewRecorder()
		c, _ := gin.CreateTestContext(w)
		c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		c.Request.Header.Set("Content-Type", contentType)
		var got fuzzRequest
		err := httpx.DecodeJSON(c, &got)
		if err != nil {
			var ae *apperr.Error
			if !errors.As(err, &ae) || ae.Code != apperr.CodeInvalid && ae.Code != apperr.CodePayloadTooLarge {
				t.Fatalf("refusal %v is not invalid_argument", err)
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var want fuzzRequest
		if err := json.Unmarshal(body, &want); err != nil {
			t.Fatalf("accepted %q, which the standard decoder refuses: %v", body, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("%q decoded as %+v, the standard decoder says %+v", body, got, want)
		}
	})
}
