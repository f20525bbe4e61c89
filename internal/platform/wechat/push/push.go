// Package push receives the WeChat mini-program message push (消息推送):
// the URL verification of GET /api/v1/notify/wechat and the signed,
// optionally encrypted, events WeChat POSTs there. It is a dispatcher:
// modules register one Handler per event name (trade_manage_order_settlement,
// wxa_media_check, ...), and events nobody registered are acknowledged and
// logged, never refused, so that WeChat does not retry them forever.
//
// The rules, from WeChat's documentation of the message push:
//   - Every request carries signature = SHA1 of the sorted token, timestamp
//     and nonce. It is compared in constant time; a wrong one is refused
//     (401) and no handler runs. The verification echo (echostr) is only
//     written back when the signature is right.
//   - In safe mode (encrypt_type=aes) the body is {"ToUserName","Encrypt"}
//     (or its XML form), msg_signature = SHA1 of the sorted token,
//     timestamp, nonce and Encrypt, and Encrypt is AES-256-CBC of
//     random(16) + length(4) + message + appid under the EncodingAESKey; the
//     appid inside must be ours. When an EncodingAESKey is configured,
//     plaintext pushes are refused.
//   - The reply to an accepted event is the text "success". A handler error
//     answers 5xx so WeChat delivers again: handlers must be idempotent.
//
// Decryption uses silenceper/wechat/v2's util.DecryptMsg; the signature
// check is done here because silenceper's receiver compares signatures in
// variable time and does not check msg_signature.
package push

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/silenceper/wechat/v2/util"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Formats of a pushed message, chosen in the mini-program console.
const (
	FormatJSON = "json"
	FormatXML  = "xml"
)

// Event is one pushed message after the signature check and decryption.
type Event struct {
	// Name is the Event field (e.g. trade_manage_order_settlement); MsgType
	// is "event" for events.
	Name         string
	MsgType      string
	ToUserName   string
	FromUserName string
	CreateTime   time.Time
	// Format is FormatJSON or FormatXML; Raw is the decrypted message in it.
	Format string
	Raw    []byte
}

// Decode unmarshals the raw message into v (JSON or XML, as it came), for
// handlers that want typed fields, e.g. silenceper's
// message.PushDataOrderSettlement.
func (e Event) Decode(v any) error {
	if e.Format == FormatXML {
		return xml.Unmarshal(e.Raw, v)
	}
	return json.Unmarshal(e.Raw, v)
}

// Handler handles one event. It must be idempotent: WeChat delivers an event
// again when the reply is not "success" or is late. An error answers 5xx.
type Handler func(ctx context.Context, e Event) error

// Config is the message-push configuration of the mini-program console.
type Config struct {
	// Token signs every push (MINIMALL_WECHAT_PUSH_TOKEN). Empty: the
	// endpoint refuses every request.
	Token string
	// AESKey is the 43-character EncodingAESKey of safe mode
	// (MINIMALL_WECHAT_PUSH_AES_KEY); empty: plaintext mode.
	AESKey string
	// AppID is the mini-program's AppID, which encrypted messages must carry.
	AppID string
}

// Dispatcher verifies pushes and hands each event to its handler.
type Dispatcher struct {
	cfg Config
	log *slog.Logger

	mu       sync.RWMutex
	handlers map[string]Handler
}

// New returns a dispatcher. An AES key needs the AppID and must be a valid
// EncodingAESKey (43 characters of base64 for 32 bytes).
func New(cfg Config, log *slog.Logger) (*Dispatcher, error) {
	if log == nil {
		return nil, errors.New("push: nil logger")
	}
	if cfg.AESKey != "" {
		if cfg.AppID == "" {
			return nil, errors.New("push: safe mode needs the mini-program AppID")
		}
		if err := CheckAESKey(cfg.AESKey); err != nil {
			return nil, err
		}
	}
	return &Dispatcher{cfg: cfg, log: log, handlers: map[string]Handler{}}, nil
}

// CheckAESKey reports whether key is a well-formed EncodingAESKey.
func CheckAESKey(key string) error {
	if len(key) != 43 {
		return errors.New("push: the EncodingAESKey must be 43 characters")
	}
	raw, err := decodeAESKey(key)
	if err != nil || len(raw) != 32 {
		return errors.New("push: the EncodingAESKey is not base64 of 32 bytes")
	}
	return nil
}

// Handle registers h for the event name. Registering a name twice is an
// error: one event has one owner.
func (d *Dispatcher) Handle(name string, h Handler) error {
	if name == "" || h == nil {
		return errors.New("push: event name and handler are required")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, dup := d.handlers[name]; dup {
		return fmt.Errorf("push: a handler for %q is already registered", name)
	}
	d.handlers[name] = h
	return nil
}

// Sign is WeChat's signature over parts: the hex SHA1 of their sorted
// concatenation. The sandbox signs with it too.
func Sign(parts ...string) string {
	s := append([]string(nil), parts...)
	sort.Strings(s)
	sum := sha1.Sum([]byte(strings.Join(s, "")))
	return hex.EncodeToString(sum[:])
}

func decodeAESKey(key string) ([]byte, error) { return base64.StdEncoding.DecodeString(key + "=") }

func equal(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }

// signed checks the signature query parameter.
func (d *Dispatcher) signed(c *gin.Context) bool {
	if d.cfg.Token == "" {
		return false
	}
	q := c.Request.URL.Query()
	return equal(q.Get("signature"), Sign(d.cfg.Token, q.Get("timestamp"), q.Get("nonce")))
}

func (d *Dispatcher) refuse(c *gin.Context, why string) {
	d.log.WarnContext(c.Request.Context(), "wechat push refused", "reason", why)
	httpx.Error(c, apperr.Unauthenticated("the push signature does not verify"))
}

// Verify serves GET /api/v1/notify/wechat: WeChat's URL verification. It
// writes echostr back only when the signature verifies.
func (d *Dispatcher) Verify(c *gin.Context) {
	if !d.signed(c) {
		d.refuse(c, "bad signature on verification")
		return
	}
	c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(c.Query("echostr")))
}

// envelope is the safe-mode body.
type envelope struct {
	XMLName    xml.Name `json:"-" xml:"xml"`
	ToUserName string   `json:"ToUserName" xml:"ToUserName"`
	Encrypt    string   `json:"Encrypt" xml:"Encrypt"`
}

// common are the fields every pushed message has.
type common struct {
	XMLName      xml.Name `json:"-" xml:"xml"`
	ToUserName   string   `json:"ToUserName" xml:"ToUserName"`
	FromUserName string   `json:"FromUserName" xml:"FromUserName"`
	CreateTime   int64    `json:"CreateTime" xml:"CreateTime"`
	MsgType      string   `json:"MsgType" xml:"MsgType"`
	Event        string   `json:"Event" xml:"Event"`
}

func formatOf(contentType string, body []byte) string {
	if strings.Contains(contentType, "xml") || bytes.HasPrefix(bytes.TrimSpace(body), []byte("<")) {
		return FormatXML
	}
	return FormatJSON
}

func unmarshal(format string, b []byte, v any) error {
	if format == FormatXML {
		return xml.Unmarshal(b, v)
	}
	return json.Unmarshal(b, v)
}

// Receive serves POST /api/v1/notify/wechat: verify, decrypt, dispatch, and
// answer "success".
func (d *Dispatcher) Receive(c *gin.Context) {
	if !d.signed(c) {
		d.refuse(c, "bad signature")
		return
	}
	body, err := io.ReadAll(c.Request.Body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			TooLarge(c)
			return
		}
		httpx.Error(c, apperr.Invalid("the push body could not be read"))
		return
	}
	format := formatOf(c.GetHeader("Content-Type"), body)
	q := c.Request.URL.Query()
	msg := body
	switch {
	case q.Get("encrypt_type") == "aes":
		if d.cfg.AESKey == "" {
			httpx.Error(c, apperr.Invalid("an encrypted push arrived but no EncodingAESKey is configured"))
			return
		}
		var env envelope
		if err := unmarshal(format, body, &env); err != nil || env.Encrypt == "" {
			httpx.Error(c, apperr.Invalid("the encrypted push is malformed"))
			return
		}
		if !equal(q.Get("msg_signature"), Sign(d.cfg.Token, q.Get("timestamp"), q.Get("nonce"), env.Encrypt)) {
			d.refuse(c, "bad msg_signature")
			return
		}
		if _, msg, err = util.DecryptMsg(d.cfg.AppID, env.Encrypt, d.cfg.AESKey); err != nil {
			httpx.Error(c, apperr.Invalid("the encrypted push does not decrypt for this app"))
			return
		}
		format = formatOf("", msg)
	case d.cfg.AESKey != "":
		httpx.Error(c, apperr.Invalid("safe mode is configured: plaintext pushes are refused"))
		return
	}
	var cm common
	if err := unmarshal(format, msg, &cm); err != nil {
		httpx.Error(c, apperr.Invalid("the push message is malformed"))
		return
	}
	e := Event{Name: cm.Event, MsgType: cm.MsgType, ToUserName: cm.ToUserName, FromUserName: cm.FromUserName,
		CreateTime: time.Unix(cm.CreateTime, 0).UTC(), Format: format, Raw: msg}
	d.mu.RLock()
	h := d.handlers[e.Name]
	d.mu.RUnlock()
	ctx := c.Request.Context()
	if h == nil {
		d.log.InfoContext(ctx, "wechat push event not handled", "msg_type", e.MsgType, "event", e.Name)
		c.String(http.StatusOK, "success")
		return
	}
	if err := h(ctx, e); err != nil {
		httpx.Error(c, apperr.From(err))
		return
	}
	c.String(http.StatusOK, "success")
}

// TooLarge answers a push whose body is over the request limit in the
// message push's own plain-text form: 413 and "fail" (anything but
// "success" is a refusal to WeChat), never the API's JSON envelope. The
// router calls it for a declared length over the limit, Receive for a body
// that crosses the limit while it is read.
func TooLarge(c *gin.Context) {
	c.Data(http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", []byte("fail"))
	c.Abort()
}
