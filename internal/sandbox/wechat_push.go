package sandbox

import (
	"bytes"
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// WeChat's mini-program message push (消息推送), as the platform does it:
// every event (a shipping settlement, an image's content-check verdict) is
// posted to the URL set in the mini-program's console with signature,
// timestamp and nonce in the query (signature = SHA1 of the sorted token,
// timestamp and nonce); in safe mode (the default) the message is
// encrypted with the EncodingAESKey and msg_signature covers it too. A push
// counts as received when the URL answers 200 "success"; WeChat tries an
// unanswered push three times. Deliveries go through a Notifier, so each
// attempt is signed afresh and recorded.
//
// Control: POST /_sandbox/wechat/push-url {"url","plaintext"?} sets the URL
// (SetWeChatPushURL).

// wechatPushSchedule is how long WeChat waits before its second and third
// attempt at a push that was not answered "success".
var wechatPushSchedule = []time.Duration{time.Second, 2 * time.Second}

// errNoPushURL answers a push asked for before the URL was set.
var errNoPushURL = errors.New("sandbox: no message-push URL is set (SetWeChatPushURL or /_sandbox/wechat/push-url)")

// wechatPush is the mini-program's message-push setting and its deliveries.
type wechatPush struct {
	token, aesKey, appID string
	notes                *Notifier // pushes, by what they are about (a trace_id, a transaction id)

	mu        sync.Mutex
	url       string
	plaintext bool
}

// wechatPushAcked is WeChat's rule: a push is received when answered 200
// "success".
func wechatPushAcked(status int, body string) bool {
	return status == http.StatusOK && strings.TrimSpace(body) == "success"
}

// registerWeChatPush makes the push credentials and installs the control.
func (s *Server) registerWeChatPush() {
	s.settings.WeChatPushToken = "sandbox-push-" + randomHex(8)
	// An EncodingAESKey is 43 characters of base64 for 32 bytes.
	s.settings.WeChatPushAESKey = base64.StdEncoding.EncodeToString([]byte(randomHex(16)))[:43]
	s.wechatPush = &wechatPush{token: s.settings.WeChatPushToken, aesKey: s.settings.WeChatPushAESKey,
		appID: s.settings.WeChatAppID, notes: NewNotifier(wechatPushSchedule, wechatPushAcked)}
	s.mux.HandleFunc("POST /_sandbox/wechat/push-url", control(
		func(q pushURLControl) bool { return strings.HasPrefix(q.URL, "http") },
		usage(`body must be {"url":"http://.../api/v1/notify/wechat"}`),
		func(_ *http.Request, q pushURLControl) (any, error) {
			s.SetWeChatPushURL(q.URL, q.Plaintext)
			return q, nil
		},
		failWith(http.StatusBadRequest)))
}

// SetWeChatPushURL sets the mini-program's message-push URL (the console
// setting), e.g. http://127.0.0.1:8080/api/v1/notify/wechat. plaintext
// turns safe mode off.
func (s *Server) SetWeChatPushURL(u string, plaintext bool) {
	p := s.wechatPush
	p.mu.Lock()
	defer p.mu.Unlock()
	p.url, p.plaintext = u, plaintext
}

// PushResult is what the message-push URL answered.
type PushResult struct {
	Status int    `json:"status"`
	Reply  string `json:"reply"`
}

// PushWeChat delivers one message to the message-push URL now, once, as
// WeChat does (signed; encrypted in safe mode), and returns the answer.
func (s *Server) PushWeChat(ctx context.Context, msg []byte) (PushResult, error) {
	return s.wechatPush.now(ctx, "message", "", func() ([]byte, error) { return msg, nil })
}

// now delivers the message made by msg once, at once, recorded under key.
func (p *wechatPush) now(ctx context.Context, key, event string, msg func() ([]byte, error)) (PushResult, error) {
	d := p.notes.Now(ctx, key, 1, p.message(event, msg))[0]
	if d.Error != "" {
		return PushResult{}, errors.New(d.Error)
	}
	return PushResult{Status: d.Status, Reply: d.Body}, nil
}

// send delivers the message made by msg in the background, on WeChat's
// schedule, until it is answered "success".
func (p *wechatPush) send(key, event string, msg func() ([]byte, error)) {
	p.notes.Send(key, p.message(event, msg))
}

// message returns the build function of a push: the message made afresh,
// signed with a new timestamp and nonce, and encrypted in safe mode, for
// every attempt.
func (p *wechatPush) message(event string, msg func() ([]byte, error)) func() (Notification, error) {
	return func() (Notification, error) {
		p.mu.Lock()
		target, plaintext := p.url, p.plaintext
		p.mu.Unlock()
		if target == "" {
			return Notification{}, errNoPushURL
		}
		body, err := msg()
		if err != nil {
			return Notification{}, err
		}
		ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), randomHex(8)
		q := url.Values{"signature": {wechatPushSign(p.token, ts, nonce)}, "timestamp": {ts}, "nonce": {nonce}}
		if !plaintext {
			enc, err := wechatPushEncrypt(p.aesKey, p.appID, body)
			if err != nil {
				return Notification{}, err
			}
			if body, err = json.Marshal(map[string]string{"ToUserName": "gh_sandbox", "Encrypt": enc}); err != nil {
				return Notification{}, err
			}
			q.Set("encrypt_type", "aes")
			q.Set("msg_signature", wechatPushSign(p.token, ts, nonce, enc))
		}
		sep := "?"
		if strings.Contains(target, "?") {
			sep = "&"
		}
		return Notification{URL: target + sep + q.Encode(), Header: http.Header{"Content-Type": {"application/json"}},
			Body: body, Nonce: nonce, Event: event, Genuine: true}, nil
	}
}

// pushURLControl is the body of POST /_sandbox/wechat/push-url.
type pushURLControl struct {
	URL       string `json:"url"`
	Plaintext bool   `json:"plaintext"`
}

// wechatPushSign is WeChat's push signature: hex SHA1 of the sorted parts.
func wechatPushSign(parts ...string) string {
	p := append([]string(nil), parts...)
	sort.Strings(p)
	h := sha1.Sum([]byte(strings.Join(p, "")))
	return hex.EncodeToString(h[:])
}

// wechatPushEncrypt is safe mode's encryption: AES-256-CBC, IV the key's
// first 16 bytes, PKCS#7 padding to 32 bytes, over random(16) + length(4,
// big endian) + message + appid, base64.
func wechatPushEncrypt(encodingAESKey, appID string, msg []byte) (string, error) {
	key, err := base64.StdEncoding.DecodeString(encodingAESKey + "=")
	if err != nil || len(key) != 32 {
		return "", errors.New("sandbox: bad EncodingAESKey")
	}
	var buf bytes.Buffer
	buf.WriteString(randomHex(8)) // 16 random bytes
	_ = binary.Write(&buf, binary.BigEndian, uint32(len(msg)))
	buf.Write(msg)
	buf.WriteString(appID)
	pad := 32 - buf.Len()%32
	buf.Write(bytes.Repeat([]byte{byte(pad)}, pad))
	block, err := aes.NewCipher(key)
	if err != nil {
		return "", err
	}
	out := make([]byte, buf.Len())
	cipher.NewCBCEncrypter(block, key[:16]).CryptBlocks(out, buf.Bytes())
	return base64.StdEncoding.EncodeToString(out), nil
}
