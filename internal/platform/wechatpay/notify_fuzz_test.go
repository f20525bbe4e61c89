package wechatpay_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"net/http"
	"testing"

	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/wechatpay"
)

// FuzzParseNotification feeds arbitrary bodies and signature headers to the
// payment and refund notification parsers: nothing panics (the SDK's nil
// resource included), every refusal is a *NotifyError, and nothing the
// fuzzer made verifies (only WeChat Pay's key signs).
func FuzzParseNotification(f *testing.F) {
	// One key plays both sides: only its setup cost matters, since nothing
	// the fuzzer makes is signed with it.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	const publicKeyID = "PUB_KEY_ID_0000000000000000000000000001"
	c, err := wechatpay.New(wechatpay.Config{
		AppID: "wx0000000000000001", MchID: "1900000001", Serial: "0123456789ABCDEF", PrivateKey: key,
		APIv3Key: "0123456789abcdef0123456789abcdef", PublicKeyID: publicKeyID, PublicKey: &key.PublicKey,
		APIBase: "http://127.0.0.1:1",
	}, clock.System{})
	if err != nil {
		f.Fatal(err)
	}
	resource := `"resource":{"original_type":"transaction","algorithm":"AEAD_AES_256_GCM","ciphertext":"YWJj","associated_data":"transaction","nonce":"abcdefghijkl"}`
	for _, b := range []string{
		"",
		"{}",
		`{"id":"1","create_time":"2026-12-03T10:00:00+08:00","event_type":"TRANSACTION.SUCCESS"}`,
		`{"id":"1","create_time":"2026-12-03T10:00:00+08:00","event_type":"TRANSACTION.SUCCESS",` + resource + `}`,
		`{"id":"1","create_time":"2026-12-03T10:00:00+08:00","event_type":"REFUND.SUCCESS",` + resource + `}`,
		`{"id":"1","create_time":"x","event_type":"TRANSACTION.SUCCESS","resource":null}`,
		`[1,2,3]`, `{"id":"1"}{"id":"2"}`,
	} {
		f.Add(b, "1796297155", "nonce", "c2lnbmF0dXJl", publicKeyID)
		f.Add(b, "1796297155", "nonce", wechatpay.ProbeSignaturePrefix+"x", publicKeyID)
	}
	f.Fuzz(func(t *testing.T, body, ts, nonce, sig, serial string) {
		for _, refund := range []bool{false, true} {
			r, err := http.NewRequest(http.MethodPost, "/notify", bytes.NewReader([]byte(body)))
			if err != nil {
				t.Fatal(err)
			}
			r.Header.Set(wechatpay.HeaderTimestamp, ts)
			r.Header.Set(wechatpay.HeaderNonce, nonce)
			r.Header.Set(wechatpay.HeaderSignature, sig)
			r.Header.Set(wechatpay.HeaderSerial, serial)
			r.Header.Set(wechatpay.HeaderSignatureType, "WECHATPAY2-SHA256-RSA2048")
			if refund {
				_, err = c.ParseRefundNotification(context.Background(), r, 1<<20)
			} else {
				_, err = c.ParseNotification(context.Background(), r, 1<<20)
			}
			if err == nil {
				t.Fatalf("an unsigned notification verified: %q", body)
			}
			var ne *wechatpay.NotifyError
			if !errors.As(err, &ne) {
				t.Fatalf("refusal %v is not a *NotifyError", err)
			}
		}
	})
}
