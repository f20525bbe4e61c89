package push_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/silenceper/wechat/v2/util"

	"github.com/minimall/minimall/internal/platform/wechat/push"
)

// FuzzReceive sends the message-push route arbitrary bodies, correctly
// signed (so the parsing behind the signature check is what is fuzzed), in
// plaintext mode and in safe mode (the fuzzed text is the Encrypt field,
// with a right msg_signature). Nothing panics; the answer is "success"
// (200), or a refusal of the malformed push (400); a handler only ever sees
// an event whose name it registered.
func FuzzReceive(f *testing.F) {
	gin.SetMode(gin.TestMode)
	engines := map[bool]*gin.Engine{}
	for _, safe := range []bool{false, true} {
		cfg := push.Config{Token: token}
		if safe {
			cfg.AESKey, cfg.AppID = aesKey, appID
		}
		d, err := push.New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err != nil {
			f.Fatal(err)
		}
		if err := d.Handle("trade_manage_order_settlement", func(_ context.Context, e push.Event) error {
			if e.Name != "trade_manage_order_settlement" {
				panic("handler called for " + e.Name)
			}
			return nil
		}); err != nil {
			f.Fatal(err)
		}
		e := gin.New()
		e.POST("/push", d.Receive)
		engines[safe] = e
	}
	// Encrypted messages as WeChat makes them, so mutations start from
	// text that decrypts: a real event, a message that is not JSON, and one
	// for another app.
	var encrypted []string
	for _, m := range []struct{ msg, app string }{{settlement, appID}, {"not json", appID}, {settlement, "wx-other"}} {
		b, err := util.EncryptMsg([]byte("0123456789abcdef"), []byte(m.msg), m.app, aesKey)
		if err != nil {
			f.Fatal(err)
		}
		encrypted = append(encrypted, string(b))
	}
	for _, s := range []string{
		encrypted[0], encrypted[1], encrypted[2],
		settlement, `{}`, `null`, ``, `<xml><Event>x</Event></xml>`, `<xml><CreateTime>99999999999999999999</CreateTime></xml>`,
		`{"CreateTime":"x"}`, `{"Event":"trade_manage_order_settlement","CreateTime":-1}`, `<`, `<xml>`, `{"Encrypt":""}`,
		"AAAA", "aGVsbG8=", "////////////////////////////////////////////", "\x00",
	} {
		f.Add(s, false, false)
		f.Add(s, true, false)
		f.Add(s, true, true)
	}
	f.Fuzz(func(t *testing.T, s string, safe, xmlEnvelope bool) {
		q := url.Values{"timestamp": {"1700000000"}, "nonce": {"n"}, "signature": {wxSign(token, "1700000000", "n")}}
		body := []byte(s)
		contentType := "application/json"
		if safe {
			q.Set("encrypt_type", "aes")
			q.Set("msg_signature", wxSign(token, "1700000000", "n", s))
			if xmlEnvelope {
				var b bytes.Buffer
				b.WriteString("<xml><ToUserName>gh_1</ToUserName><Encrypt><![CDATA[")
				b.WriteString(s)
				b.WriteString("]]></Encrypt></xml>")
				body, contentType = b.Bytes(), "text/xml"
			} else {
				body, _ = json.Marshal(map[string]string{"ToUserName": "gh_1", "Encrypt": s})
			}
		}
		req := httptest.NewRequest(http.MethodPost, "/push?"+q.Encode(), bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		w := httptest.NewRecorder()
		engines[safe].ServeHTTP(w, req)
		switch w.Code {
		case http.StatusOK:
			if w.Body.String() != "success" {
				t.Fatalf("200 with %q", w.Body.String())
			}
		case http.StatusBadRequest, http.StatusUnauthorized:
		default:
			t.Fatalf("%q (safe %v): status %d %s", s, safe, w.Code, w.Body.String())
		}
	})
}
