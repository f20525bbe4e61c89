package sandbox

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"time"
)

// AlipayGatewayPath is the path of the simulated Alipay gateway.
const AlipayGatewayPath = "/gateway.do"

// alipayMethod handles one gateway method. It returns the name of the
// response node and the node itself: "<method>_response" on success and
// business failures, "error_response" on the gateway's own refusals.
type alipayMethod func(r *http.Request, form url.Values) (node string, body any)

// AlipayError is the error shape inside an Alipay response node.
type AlipayError struct {
	Code    string `json:"code"`
	Msg     string `json:"msg"`
	SubCode string `json:"sub_code,omitempty"`
	SubMsg  string `json:"sub_msg,omitempty"`
}

const alipayErrorNode = "error_response"

func (s *Server) registerAlipayGateway() {
	s.mux.HandleFunc("POST "+AlipayGatewayPath, s.alipayGateway)
	s.mux.HandleFunc("GET "+AlipayGatewayPath, s.alipayGateway)
	s.handleAlipayMethod("alipay.system.oauth.token", s.alipayOAuthToken)
}

// handleAlipayMethod registers a gateway method; each platform feature adds
// its own in New.
func (s *Server) handleAlipayMethod(name string, m alipayMethod) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.alipayMethods[name] = m
}

// alipayGateway checks the common parameters and the application's RSA2
// signature, then runs the method and answers its node signed as Alipay
// signs: RSA-SHA256 over the exact bytes of the node's JSON value.
func (s *Server) alipayGateway(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-parameter", SubMsg: "参数无效"})
		return
	}
	form := r.Form
	method := form.Get("method")
	s.mu.Lock()
	m := s.alipayMethods[method]
	s.mu.Unlock()
	switch {
	case form.Get("app_id") != s.settings.AlipayAppID:
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-app-id", SubMsg: "无效的AppID参数"})
	case form.Get("sign_type") != "RSA2":
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-signature-type", SubMsg: "无效的签名类型"})
	case !s.alipayRequestSigned(form):
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-signature", SubMsg: "验签出错"})
	case s.alipayTrades.appCertSN != "" && (form.Get("app_cert_sn") != s.alipayTrades.appCertSN || form.Get("alipay_root_cert_sn") != s.alipayTrades.rootCertSN):
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.app-cert-sn-invalid", SubMsg: "应用公钥证书序列号或根证书序列号无效"})
	case !alipayTimestampFresh(form.Get("timestamp")):
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-timestamp", SubMsg: "非法的时间戳参数"})
	case m == nil:
		s.writeAlipay(w, alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.invalid-method", SubMsg: "不存在的方法名"})
	default:
		node, body := m(r, form)
		s.writeAlipay(w, node, body)
	}
}

// alipayTimestampFresh accepts Beijing-time timestamps within 15 minutes of
// now, as the gateway does; a client that sends UTC is refused.
func alipayTimestampFresh(ts string) bool {
	loc := time.FixedZone("CST", 8*3600)
	t, err := time.ParseInLocation("2006-01-02 15:04:05", ts, loc)
	if err != nil {
		return false
	}
	d := time.Since(t)
	return d < 15*time.Minute && d > -15*time.Minute
}

// alipayRequestSigned verifies the application's signature: every non-empty
// parameter except sign, sorted by name, joined as k=v with &.
func (s *Server) alipayRequestSigned(form url.Values) bool {
	sig, err := base64.StdEncoding.DecodeString(form.Get("sign"))
	if err != nil || len(sig) == 0 {
		return false
	}
	digest := sha256.Sum256([]byte(AlipaySignContent(form, "sign")))
	return rsa.VerifyPKCS1v15(s.appPub, crypto.SHA256, digest[:], sig) == nil
}

// AlipaySignContent is the string Alipay signs for a set of parameters: the
// non-empty ones not in exclude, sorted, as k=v joined with &.
func AlipaySignContent(v url.Values, exclude ...string) string {
	skip := map[string]bool{}
	for _, e := range exclude {
		skip[e] = true
	}
	var pairs []string
	for k, vs := range v {
		if skip[k] {
			continue
		}
		for _, x := range vs {
			if x != "" {
				pairs = append(pairs, k+"="+x)
			}
		}
	}
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// alipaySign signs content with Alipay's key (RSA2) and returns base64.
func (s *Server) alipaySign(content []byte) string {
	digest := sha256.Sum256(content)
	sig, err := rsa.SignPKCS1v15(rand.Reader, s.alipayKey, crypto.SHA256, digest[:])
	if err != nil {
		panic("sandbox: rsa sign: " + err.Error())
	}
	return base64.StdEncoding.EncodeToString(sig)
}

// writeAlipay answers {"<node>":<body>,"sign":"..."} with the signature over
// the body's exact bytes.
func (s *Server) writeAlipay(w http.ResponseWriter, node string, body any) {
	raw, err := json.Marshal(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	name, _ := json.Marshal(node)
	var b bytes.Buffer
	b.WriteString("{")
	b.Write(name)
	b.WriteString(":")
	b.Write(raw)
	if s.alipayTrades != nil && s.alipayTrades.alipayCertSN != "" {
		b.WriteString(`,"alipay_cert_sn":"` + s.alipayTrades.alipayCertSN + `"`)
	}
	b.WriteString(`,"sign":"`)
	b.WriteString(s.alipaySign(raw))
	b.WriteString(`"}`)
	w.Header().Set("Content-Type", "text/html;charset=utf-8")
	_, _ = w.Write(b.Bytes())
}

// alipayOAuthTokenResponse is alipay.system.oauth.token's success node.
type alipayOAuthTokenResponse struct {
	AccessToken  string `json:"access_token"`
	AlipayUserID string `json:"alipay_user_id,omitempty"`
	AuthStart    string `json:"auth_start"`
	ExpiresIn    int64  `json:"expires_in"`
	ReExpiresIn  int64  `json:"re_expires_in"`
	RefreshToken string `json:"refresh_token"`
	UserID       string `json:"user_id,omitempty"`
	OpenID       string `json:"open_id,omitempty"`
}

// alipayOAuthToken serves alipay.system.oauth.token. Refusals come in
// error_response, as the real gateway sends them for this method.
func (s *Server) alipayOAuthToken(_ *http.Request, form url.Values) (string, any) {
	if form.Get("grant_type") != "authorization_code" {
		return alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.grant-type-invalid", SubMsg: "grant_type参数不正确"}
	}
	code := form.Get("code")
	if code == CodeBusy {
		return alipayErrorNode, AlipayError{Code: "20000", Msg: "Service Currently Unavailable", SubCode: "isp.unknow-error", SubMsg: "系统繁忙"}
	}
	name, ok := nameOf(code)
	if !ok {
		return alipayErrorNode, AlipayError{Code: "40002", Msg: "Invalid Arguments", SubCode: "isv.code-invalid", SubMsg: "授权码code无效"}
	}
	res := alipayOAuthTokenResponse{
		AccessToken:  "authusrB" + randomHex(16),
		AuthStart:    time.Now().In(time.FixedZone("CST", 8*3600)).Format("2006-01-02 15:04:05"),
		ExpiresIn:    1296000,
		ReExpiresIn:  2592000,
		RefreshToken: "authusrB" + randomHex(16),
	}
	if s.opts.AlipayOpenID {
		res.OpenID = s.AlipayOpenID(name)
	} else {
		res.UserID = AlipayUserID(name)
		res.AlipayUserID = res.UserID
	}
	return "alipay_system_oauth_token_response", res
}

// AlipayUserID returns the user_id the sandbox gives customer name.
func AlipayUserID(name string) string { return "2088" + digits(derive("alipay", name), 12) }

// AlipayOpenID returns the open_id the sandbox gives customer name in its app.
func (s *Server) AlipayOpenID(name string) string {
	return "0" + derive("alipay-open", s.settings.AlipayAppID, name)[:47]
}
