package alipay_test

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"net/url"
	"testing"

	"github.com/minimall/minimall/internal/platform/alipay"
)

// FuzzParseNotification feeds arbitrary form bodies to the notification
// parser and verifier: nothing panics, every refusal is a *NotifyError, and
// a form the fuzzer made never verifies (only Alipay's key signs).
func FuzzParseNotification(f *testing.F) {
	// One key plays both sides: only its setup cost matters, since nothing
	// the fuzzer makes is signed with it.
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		f.Fatal(err)
	}
	priv, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		f.Fatal(err)
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		f.Fatal(err)
	}
	c, err := alipay.New(alipay.Config{AppID: "2021000000000001",
		PrivateKey: string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: priv})),
		PublicKey:  string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}))})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{
		"",
		"notify_id=n1&app_id=2021&out_trade_no=AL1&trade_status=TRADE_SUCCESS&sign=c2lnbg%3D%3D&sign_type=RSA2&total_amount=19.90",
		"notify_id=n1&notify_id=n2&app_id=2021&out_trade_no=AL1&trade_status=TRADE_SUCCESS&sign=x",
		"notify_id=n1&app_id=2021&out_trade_no=AL1&trade_status=TRADE_SUCCESS&sign=x&sign_type=RSA",
		"notify_id=n1&app_id=2021&out_trade_no=AL1&trade_status=TRADE_SUCCESS&sign=%%%&alipay_cert_sn=1",
		"notify_id=n1&app_id=2021&out_trade_no=AL1&trade_status=TRADE_SUCCESS&sign=x&total_amount=-1&gmt_payment=2026-13-01",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		form, err := url.ParseQuery(body)
		if err != nil {
			return
		}
		n, err := c.ParseNotification(context.Background(), form)
		if err == nil {
			t.Fatalf("an unsigned form verified: %q → %+v", body, n)
		}
		var ne *alipay.NotifyError
		if !errors.As(err, &ne) {
			t.Fatalf("refusal %v is not a *NotifyError", err)
		}
	})
}
