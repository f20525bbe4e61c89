package sandbox

import (
	"encoding/base64"
	"net/http"
)

// wechatError is the errcode/errmsg body every WeChat API answers with on
// failure, with HTTP status 200.
type wechatError struct {
	ErrCode int    `json:"errcode"`
	ErrMsg  string `json:"errmsg"`
}

func (s *Server) registerWeChatLogin() {
	s.mux.HandleFunc("GET /sns/jscode2session", s.wechatCode2Session)
	s.mux.HandleFunc("GET /cgi-bin/token", s.wechatToken)
}

// wechatCredentialsOK checks appid and secret as WeChat does, answering its
// error when they are wrong.
func (s *Server) wechatCredentialsOK(w http.ResponseWriter, r *http.Request) bool {
	q := r.URL.Query()
	switch {
	case q.Get("appid") != s.settings.WeChatAppID:
		writeJSON(w, http.StatusOK, wechatError{40013, "invalid appid"})
		return false
	case q.Get("secret") != s.settings.WeChatSecret:
		writeJSON(w, http.StatusOK, wechatError{40125, "invalid appsecret"})
		return false
	}
	return true
}

// wechatCode2Session serves GET /sns/jscode2session.
func (s *Server) wechatCode2Session(w http.ResponseWriter, r *http.Request) {
	if !s.wechatCredentialsOK(w, r) {
		return
	}
	q := r.URL.Query()
	if q.Get("grant_type") != "authorization_code" {
		writeJSON(w, http.StatusOK, wechatError{40002, "invalid grant_type"})
		return
	}
	code := q.Get("js_code")
	switch code {
	case CodeBusy:
		writeJSON(w, http.StatusOK, wechatError{-1, "system error"})
		return
	case CodeRisky:
		writeJSON(w, http.StatusOK, wechatError{40226, "code blocked, high risk user"})
		return
	case CodeSlowDown:
		writeJSON(w, http.StatusOK, wechatError{45011, "api minute-quota reach limit  mustslower  retry next minute"})
		return
	}
	name, ok := nameOf(code)
	if !ok {
		writeJSON(w, http.StatusOK, wechatError{40029, "invalid code"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"openid":      s.WeChatOpenID(name),
		"unionid":     WeChatUnionID(name),
		"session_key": base64.StdEncoding.EncodeToString([]byte(randomHex(8))),
	})
}

// WeChatOpenID returns the openid the sandbox gives customer name in its app.
func (s *Server) WeChatOpenID(name string) string {
	return "o" + base64.RawURLEncoding.EncodeToString([]byte(derive("wechat", s.settings.WeChatAppID, name)))[:27]
}

// WeChatUnionID returns the unionid of customer name: the same in every app,
// which is what links two apps' identities to one customer.
func WeChatUnionID(name string) string { return "u-" + name }

// wechatToken serves GET /cgi-bin/token (client_credential).
func (s *Server) wechatToken(w http.ResponseWriter, r *http.Request) {
	if r.URL.Query().Get("grant_type") != "client_credential" {
		writeJSON(w, http.StatusOK, wechatError{40002, "invalid grant_type"})
		return
	}
	if !s.wechatCredentialsOK(w, r) {
		return
	}
	tok := "sandbox-at-" + randomHex(24)
	s.mu.Lock()
	s.wechatTokens[tok] = true
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, map[string]any{"access_token": tok, "expires_in": 7200})
}

// WeChatAccessTokenValid reports whether tok was issued by /cgi-bin/token, for
// the server APIs that take an access_token.
func (s *Server) WeChatAccessTokenValid(tok string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.wechatTokens[tok]
}
