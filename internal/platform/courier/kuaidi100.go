// Package courier talks to the parcel tracking API of kuaidi100 (快递100):
// subscribing a waybill to pushes, querying it in real time, and verifying
// and reading the pushes. It speaks kuaidi100's documented protocol:
//
//   - Subscribe: POST {base}/poll, form schema=json and param, a JSON object
//     with company, number, key and parameters{callbackurl, salt, resultv2,
//     phone}. returnCode 200 is accepted; 501 (already subscribed) is
//     success too.
//   - Query: POST {base}/poll/query.do, form customer, param
//     {com, num, phone, resultv2} and sign = upper-case hex MD5 of
//     param + key + customer.
//   - Push: kuaidi100 POSTs form param (JSON with lastResult) and sign =
//     upper-case hex MD5 of param + salt; the receiver answers
//     {"result":true,"returnCode":"200","message":"成功"}.
//
// Times in kuaidi100's answers are Beijing time. Errors never carry the key,
// the customer id or the salt.
package courier

import (
	"context"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// DefaultAPIBase is kuaidi100's tracking API.
const DefaultAPIBase = "https://poll.kuaidi100.com"

// PushReply is the body kuaidi100 expects once a push is stored.
const PushReply = `{"result":true,"returnCode":"200","message":"成功"}`

// PushTooLarge refuses a push whose body is over the request limit, in
// kuaidi100's reply format (result false: the push is not taken).
const PushTooLarge = `{"result":false,"returnCode":"413","message":"request body too large"}`

// resultV2 asks for the richer answer: per-event status codes and places.
const resultV2 = "4"

// requestTimeout bounds one call.
const requestTimeout = 10 * time.Second

// beijing is kuaidi100's clock (China has no daylight saving time).
var beijing = time.FixedZone("CST", 8*3600)

// Config is what a Client needs.
type Config struct {
	APIBase  string
	Key      string
	Customer string
	Salt     string
	// HTTPClient is optional (a client with a 10 s timeout by default).
	HTTPClient *http.Client
}

// Client calls kuaidi100.
type Client struct {
	base     string
	key      string
	customer string
	salt     string
	http     *http.Client
}

// New returns a client; the key, customer id and salt are required.
func New(cfg Config) (*Client, error) {
	if cfg.Key == "" || cfg.Customer == "" || cfg.Salt == "" {
		return nil, errors.New("courier: key, customer and salt are required")
	}
	if cfg.APIBase == "" {
		cfg.APIBase = DefaultAPIBase
	}
	u, err := url.Parse(cfg.APIBase)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("courier: api base %q is not an http(s) URL", cfg.APIBase)
	}
	hc := cfg.HTTPClient
	if hc == nil {
		hc = &http.Client{Timeout: requestTimeout}
	}
	return &Client{base: strings.TrimRight(cfg.APIBase, "/"), key: cfg.Key, customer: cfg.Customer,
		salt: cfg.Salt, http: hc}, nil
}

// Sign is kuaidi100's signature: the upper-case hex MD5 of the
// concatenation.
func Sign(parts ...string) string {
	h := md5.Sum([]byte(strings.Join(parts, "")))
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

// Error is kuaidi100's refusal: its returnCode and message.
type Error struct {
	Op         string
	ReturnCode string
	Message    string
}

func (e *Error) Error() string {
	return fmt.Sprintf("kuaidi100 %s: returnCode=%s message=%s", e.Op, e.ReturnCode, e.Message)
}

// Subscription is a waybill to follow.
type Subscription struct {
	Company     string // kuaidi100's company code, e.g. shunfeng
	Number      string
	Phone       string // the receiver's phone; SF and ZTO need it
	CallbackURL string
}

type reply struct {
	Result     bool   `json:"result"`
	ReturnCode string `json:"returnCode"`
	Message    string `json:"message"`
}

// Subscribe asks kuaidi100 to push the waybill's events to the callback URL,
// signed with the salt. An existing subscription counts as success.
func (c *Client) Subscribe(ctx context.Context, s Subscription) error {
	param, err := json.Marshal(map[string]any{
		"company": s.Company, "number": s.Number, "key": c.key,
		"parameters": map[string]string{"callbackurl": s.CallbackURL, "salt": c.salt, "resultv2": resultV2, "phone": s.Phone},
	})
	if err != nil {
		return err
	}
	body, err := c.post(ctx, "/poll", url.Values{"schema": {"json"}, "param": {string(param)}})
	if err != nil {
		return err
	}
	var r reply
	if err := json.Unmarshal(body, &r); err != nil {
		return fmt.Errorf("kuaidi100 subscribe: unreadable answer: %w", err)
	}
	if r.ReturnCode == "200" || r.ReturnCode == "501" {
		return nil
	}
	return &Error{Op: "subscribe", ReturnCode: r.ReturnCode, Message: r.Message}
}

// Event is one step of a waybill.
type Event struct {
	Time       time.Time
	Context    string // what happened
	Location   string
	Status     string // kuaidi100's status text (在途, 签收, ...)
	StatusCode string // kuaidi100's (sub-)state code
}

// Track is what kuaidi100 knows of a waybill, newest event first.
type Track struct {
	Company string
	Number  string
	State   string // kuaidi100's state code of the waybill
	Checked bool   // ischeck: signed for
	Events  []Event
}

type eventJSON struct {
	Time       string `json:"time"`
	FTime      string `json:"ftime"`
	Context    string `json:"context"`
	Location   string `json:"location"`
	AreaName   string `json:"areaName"`
	Status     string `json:"status"`
	StatusCode string `json:"statusCode"`
}

type trackJSON struct {
	Message    string      `json:"message"`
	Status     string      `json:"status"`
	State      string      `json:"state"`
	IsCheck    string      `json:"ischeck"`
	Com        string      `json:"com"`
	Nu         string      `json:"nu"`
	Data       []eventJSON `json:"data"`
	Result     *bool       `json:"result"`
	ReturnCode string      `json:"returnCode"`
}

func (t trackJSON) track() (Track, error) {
	out := Track{Company: t.Com, Number: t.Nu, State: t.State, Checked: t.IsCheck == "1"}
	for _, e := range t.Data {
		at, err := time.ParseInLocation("2006-01-02 15:04:05", firstNonEmpty(e.FTime, e.Time), beijing)
		if err != nil {
			return Track{}, fmt.Errorf("kuaidi100: event time %q: %w", e.Time, err)
		}
		out.Events = append(out.Events, Event{Time: at.UTC(), Context: e.Context,
			Location: firstNonEmpty(e.AreaName, e.Location), Status: e.Status, StatusCode: e.StatusCode})
	}
	return out, nil
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// Query asks for a waybill's events now. kuaidi100 locks waybills queried
// too often: callers keep to one query per waybill per 30 minutes.
func (c *Client) Query(ctx context.Context, company, number, phone string) (Track, error) {
	param, err := json.Marshal(map[string]string{"com": company, "num": number, "phone": phone, "resultv2": resultV2})
	if err != nil {
		return Track{}, err
	}
	form := url.Values{"customer": {c.customer}, "param": {string(param)}, "sign": {Sign(string(param), c.key, c.customer)}}
	body, err := c.post(ctx, "/poll/query.do", form)
	if err != nil {
		return Track{}, err
	}
	var t trackJSON
	if err := json.Unmarshal(body, &t); err != nil {
		return Track{}, fmt.Errorf("kuaidi100 query: unreadable answer: %w", err)
	}
	if t.Result != nil && !*t.Result || t.Status != "200" {
		return Track{}, &Error{Op: "query", ReturnCode: firstNonEmpty(t.ReturnCode, t.Status), Message: t.Message}
	}
	return t.track()
}

func (c *Client) post(ctx context.Context, path string, form url.Values) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	res, err := c.http.Do(req)
	if err != nil {
		// The URL holds no secret (they travel in the body).
		return nil, fmt.Errorf("kuaidi100 %s: %w", path, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(io.LimitReader(res.Body, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("kuaidi100 %s: %w", path, err)
	}
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("kuaidi100 %s: HTTP %d", path, res.StatusCode)
	}
	return body, nil
}

// VerifyPush reports whether sign is the salt's signature of param,
// compared in constant time.
func (c *Client) VerifyPush(param, sign string) bool {
	return subtle.ConstantTimeCompare([]byte(strings.ToUpper(sign)), []byte(Sign(param, c.salt))) == 1
}

// Push is a verified push: the subscription's status and the waybill.
type Push struct {
	Status     string // polling, shutdown, abort, updateall
	BillStatus string
	Track      Track
}

// ParsePush reads the param of a push (after VerifyPush).
func ParsePush(param string) (Push, error) {
	var p struct {
		Status     string    `json:"status"`
		BillStatus string    `json:"billstatus"`
		LastResult trackJSON `json:"lastResult"`
	}
	if err := json.Unmarshal([]byte(param), &p); err != nil {
		return Push{}, fmt.Errorf("kuaidi100 push: %w", err)
	}
	t, err := p.LastResult.track()
	if err != nil {
		return Push{}, err
	}
	return Push{Status: p.Status, BillStatus: p.BillStatus, Track: t}, nil
}
