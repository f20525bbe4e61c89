package sandbox

import (
	"io"
	"net/http"
	"strings"
)

// Platforms a test can make hang.
const (
	HangWeChatPay = "wechatpay" // the WeChat Pay API (/v3/...)
	HangAlipay    = "alipay"    // the Alipay gateway
)

// Hang makes every later call to a platform's API (HangWeChatPay,
// HangAlipay) wait without answering until its caller gives up, as a
// platform that accepted the connection and then stalled does; on false
// the platform answers again, and calls still held are let go. Control
// routes and notifications are not affected.
func (s *Server) Hang(platform string, on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.hung == nil {
		s.hung = map[string]chan struct{}{}
	}
	release, hung := s.hung[platform]
	switch {
	case on && !hung:
		s.hung[platform] = make(chan struct{})
	case !on && hung:
		close(release)
		delete(s.hung, platform)
	}
}

// hold keeps a call to a hung platform until its caller goes away or the
// platform is let go, and reports whether it held the call.
func (s *Server) hold(r *http.Request) bool {
	platform := ""
	switch {
	case strings.HasPrefix(r.URL.Path, "/v3/"):
		platform = HangWeChatPay
	case r.URL.Path == AlipayGatewayPath:
		platform = HangAlipay
	default:
		return false
	}
	s.mu.Lock()
	release, hung := s.hung[platform]
	s.mu.Unlock()
	if !hung {
		return false
	}
	// The server notices a caller that went away only once the request
	// body has been read.
	_, _ = io.Copy(io.Discard, r.Body)
	select {
	case <-r.Context().Done():
	case <-release:
	}
	return true
}

// hangControl is the body of POST /_sandbox/hang.
type hangControl struct {
	Platform string `json:"platform"`
	On       bool   `json:"on"`
}

// controlHang serves POST /_sandbox/hang {"platform","on"}.
func (s *Server) controlHang() http.HandlerFunc {
	return control(func(q hangControl) bool { return q.Platform == HangWeChatPay || q.Platform == HangAlipay },
		usage(`want {"platform":"wechatpay"|"alipay","on":bool}`),
		func(_ *http.Request, q hangControl) (any, error) { s.Hang(q.Platform, q.On); return q, nil },
		failWith(http.StatusBadRequest))
}
