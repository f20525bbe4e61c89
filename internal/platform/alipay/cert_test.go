package alipay_test

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/minimall/minimall/internal/platform/alipay"
	"github.com/minimall/minimall/internal/sandbox"
)

// certClient is a certificate-mode client of a certificate-mode sandbox: the
// sandbox refuses requests without the right app_cert_sn and
// alipay_root_cert_sn, and names its certificate in alipay_cert_sn.
func certClient(t *testing.T) (*alipay.Client, *sandbox.Server) {
	t.Helper()
	keys, err := sandboxKeys()
	if err != nil {
		t.Fatal(err)
	}
	sb, err := sandbox.New(sandbox.Options{Keys: keys, AlipayCertMode: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(sb)
	t.Cleanup(srv.Close)
	t.Cleanup(sb.StopDeliveries)
	s := sb.Settings()
	c, err := alipay.New(alipay.Config{
		AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, AppCert: s.AlipayAppCert, RootCert: s.AlipayRootCert,
		PublicCert: s.AlipayPublicCert, Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway,
	})
	if err != nil {
		t.Fatal(err)
	}
	return c, sb
}

func TestCertificateMode(t *testing.T) {
	c, sb := certClient(t)
	if _, err := c.OAuthToken(context.Background(), "test-erin"); err != nil {
		t.Fatalf("login in certificate mode: %v", err)
	}
	s := sb.Settings()
	other, err := sandbox.New(sandbox.Options{AlipayCertMode: true})
	if err != nil {
		t.Fatal(err)
	}
	defer other.StopDeliveries()
	o := other.Settings()
	tests := []struct {
		name string
		cfg  alipay.Config
	}{
		{"missing root", alipay.Config{AppID: "1", PrivateKey: s.AlipayAppPrivateKey, AppCert: s.AlipayAppCert, PublicCert: s.AlipayPublicCert}},
		{"missing app cert", alipay.Config{AppID: "1", PrivateKey: s.AlipayAppPrivateKey, RootCert: s.AlipayRootCert, PublicCert: s.AlipayPublicCert}},
		{"certificates and a public key", alipay.Config{AppID: "1", PrivateKey: s.AlipayAppPrivateKey, AppCert: s.AlipayAppCert,
			RootCert: s.AlipayRootCert, PublicCert: s.AlipayPublicCert, PublicKey: s.AlipayPublicKey}},
		{"a key where a certificate belongs", alipay.Config{AppID: "1", PrivateKey: s.AlipayAppPrivateKey, AppCert: s.AlipayAppCert,
			RootCert: s.AlipayRootCert, PublicCert: s.AlipayPublicKey}},
		{"no root certificate in the root file", alipay.Config{AppID: "1", PrivateKey: s.AlipayAppPrivateKey, AppCert: s.AlipayAppCert,
			RootCert: "not a certificate", PublicCert: s.AlipayPublicCert}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := alipay.New(tt.cfg); err == nil {
				t.Fatal("accepted")
			}
		})
	}
	// Another sandbox's Alipay certificate does not verify this sandbox's
	// responses.
	srv := httptest.NewServer(sb)
	defer srv.Close()
	wrong, err := alipay.New(alipay.Config{AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, AppCert: s.AlipayAppCert,
		RootCert: s.AlipayRootCert, PublicCert: o.AlipayPublicCert, Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := wrong.OAuthToken(context.Background(), "test-erin"); err == nil {
		t.Fatal("a response verified with another Alipay certificate")
	}
	// And a client without certificate serials is refused by the gateway.
	plain, err := alipay.New(alipay.Config{AppID: s.AlipayAppID, PrivateKey: s.AlipayAppPrivateKey, PublicKey: s.AlipayPublicKey,
		Gateway: sandbox.EndpointsAt(srv.URL).AlipayGateway})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := plain.OAuthToken(context.Background(), "test-erin"); err == nil {
		t.Fatal("the certificate-mode gateway answered a request without certificate serials")
	}
}
