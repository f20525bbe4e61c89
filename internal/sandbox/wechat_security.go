package sandbox

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// WeChat content security (内容安全): msgSecCheck and mediaCheckAsync on
// their real paths, with the verdict of an image pushed to the mini-program's
// message-push URL as the wxa_media_check event.
//
// The push itself (URL, token, EncodingAESKey, signatures, WeChat's three
// attempts) is the message push of wechat_push.go.
//
// Verdicts: text (or an image URL) containing KeywordRisky is risky, one
// containing KeywordReview is review, anything else pass. A control sets the
// verdict of an image URL (POST /_sandbox/wechat/media-check), another makes
// the next calls fail with -1 (POST /_sandbox/wechat/security/outage), and
// POST /_sandbox/wechat/media-check/deliver pushes every pending verdict at
// once instead of after the delay.

// Content-check keywords of the sandbox.
const (
	KeywordRisky  = "risky-word"
	KeywordReview = "review-word"
)

// DefaultMediaCheckDelay is how long after mediaCheckAsync the sandbox
// pushes the image's verdict.
const DefaultMediaCheckDelay = 2 * time.Second

type mediaCheck struct {
	traceID string
	url     string
	openID  string
}

// wechatSecurity is the state of the simulated content-security API.
type wechatSecurity struct {
	delay time.Duration

	mu       sync.Mutex
	outage   int               // the next outage calls answer -1
	verdicts map[string]string // media URL → suggest, set by the control
	pending  map[string]mediaCheck
	texts    int // msgSecCheck calls answered
}

func (s *Server) registerWeChatSecurity() {
	delay := s.opts.WeChatMediaCheckDelay
	if delay == 0 {
		delay = DefaultMediaCheckDelay
	}
	s.wechatSecurity = &wechatSecurity{delay: delay, verdicts: map[string]string{}, pending: map[string]mediaCheck{}}
	// A verdict acknowledged by the shop is not pushed again.
	s.wechatPush.notes.OnAck(s.mediaCheckDone)
	s.mux.HandleFunc("POST /wxa/msg_sec_check", s.wechatMsgSecCheck)
	s.mux.HandleFunc("POST /wxa/media_check_async", s.wechatMediaCheckAsync)
	// POST /_sandbox/wechat/media-check {"media_url","suggest"}: the
	// verdict of that image from now on.
	s.mux.HandleFunc("POST /_sandbox/wechat/media-check", control(
		func(q mediaVerdictControl) bool {
			return q.MediaURL != "" && (q.Suggest == "pass" || q.Suggest == "review" || q.Suggest == "risky")
		},
		usage(`want {"media_url","suggest":"pass|review|risky"}`),
		func(_ *http.Request, q mediaVerdictControl) (any, error) {
			s.wechatSecurity.mu.Lock()
			s.wechatSecurity.verdicts[q.MediaURL] = q.Suggest
			s.wechatSecurity.mu.Unlock()
			return q, nil
		}, failWith(http.StatusBadRequest)))
	s.mux.HandleFunc("POST /_sandbox/wechat/media-check/deliver", s.wechatControlDeliverMediaChecks)
	// POST /_sandbox/wechat/security/outage {"calls":N}: the next N
	// content-security calls answer -1 (system busy).
	s.mux.HandleFunc("POST /_sandbox/wechat/security/outage", control(
		func(q securityOutageControl) bool { return q.Calls >= 0 }, usage(`want {"calls":N}`),
		func(_ *http.Request, q securityOutageControl) (any, error) {
			s.SetSecurityOutage(q.Calls)
			return q, nil
		},
		failWith(http.StatusBadRequest)))
}

// suggestOf is the sandbox's verdict of a text or an image URL.
func suggestOf(s string) (string, int) {
	switch {
	case strings.Contains(s, KeywordRisky):
		return "risky", 20006
	case strings.Contains(s, KeywordReview):
		return "review", 21000
	}
	return "pass", 100
}

// wechatSecurityCall checks the access token and the outage control; it answers
// and reports false when the call must stop there.
func (s *Server) wechatSecurityCall(w http.ResponseWriter, r *http.Request, body any) bool {
	if !s.WeChatAccessTokenValid(r.URL.Query().Get("access_token")) {
		writeJSON(w, http.StatusOK, wechatError{40001, "invalid credential, access_token is invalid or not latest"})
		return false
	}
	cs := s.wechatSecurity
	cs.mu.Lock()
	down := cs.outage > 0
	if down {
		cs.outage--
	}
	cs.mu.Unlock()
	if down {
		writeJSON(w, http.StatusOK, wechatError{-1, "system error"})
		return false
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	if err := dec.Decode(body); err != nil {
		writeJSON(w, http.StatusOK, wechatError{47001, "data format error"})
		return false
	}
	return true
}

// wechatMsgSecCheck serves POST /wxa/msg_sec_check (version 2).
func (s *Server) wechatMsgSecCheck(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version int    `json:"version"`
		OpenID  string `json:"openid"`
		Scene   int    `json:"scene"`
		Content string `json:"content"`
	}
	if !s.wechatSecurityCall(w, r, &in) {
		return
	}
	switch {
	case in.Version != 2:
		writeJSON(w, http.StatusOK, wechatError{40097, "invalid args: version must be 2"})
		return
	case in.OpenID == "":
		writeJSON(w, http.StatusOK, wechatError{40003, "invalid openid"})
		return
	case in.Scene < 1 || in.Scene > 4:
		writeJSON(w, http.StatusOK, wechatError{40097, "invalid args: scene"})
		return
	case len([]rune(in.Content)) > 2500:
		writeJSON(w, http.StatusOK, wechatError{40097, "invalid args: content too long"})
		return
	}
	s.wechatSecurity.mu.Lock()
	s.wechatSecurity.texts++
	s.wechatSecurity.mu.Unlock()
	suggest, label := suggestOf(in.Content)
	writeJSON(w, http.StatusOK, map[string]any{
		"errcode": 0, "errmsg": "ok", "trace_id": "sbx-" + randomHex(12),
		"result": map[string]any{"suggest": suggest, "label": label},
		"detail": []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
	})
}

// wechatMediaCheckAsync serves POST /wxa/media_check_async (version 2): it answers
// a trace_id at once and pushes the verdict later.
func (s *Server) wechatMediaCheckAsync(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Version   int    `json:"version"`
		MediaURL  string `json:"media_url"`
		MediaType int    `json:"media_type"`
		OpenID    string `json:"openid"`
		Scene     int    `json:"scene"`
	}
	if !s.wechatSecurityCall(w, r, &in) {
		return
	}
	u, err := url.Parse(in.MediaURL)
	switch {
	case in.Version != 2:
		writeJSON(w, http.StatusOK, wechatError{40097, "invalid args: version must be 2"})
		return
	case err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "":
		writeJSON(w, http.StatusOK, wechatError{40097, "invalid args: media_url"})
		return
	case in.MediaType != 1 && in.MediaType != 2:
		writeJSON(w, http.StatusOK, wechatError{40097, "invalid args: media_type"})
		return
	case in.OpenID == "":
		writeJSON(w, http.StatusOK, wechatError{40003, "invalid openid"})
		return
	}
	c := mediaCheck{traceID: "sbx-media-" + randomHex(12), url: in.MediaURL, openID: in.OpenID}
	cs := s.wechatSecurity
	cs.mu.Lock()
	cs.pending[c.traceID] = c
	cs.mu.Unlock()
	if cs.delay > 0 {
		time.AfterFunc(cs.delay, func() {
			if _, ok := s.pendingMediaCheck(c.traceID); ok {
				s.wechatPush.send(c.traceID, mediaCheckEventName, s.mediaCheckMessage(c.traceID))
			}
		})
	}
	writeJSON(w, http.StatusOK, map[string]any{"errcode": 0, "errmsg": "ok", "trace_id": c.traceID})
}

// DeliverMediaChecks pushes the verdict of every submitted image not yet
// pushed, now, once each, and returns how many were acknowledged with
// "success" (tests call it instead of waiting for the delay).
func (s *Server) DeliverMediaChecks(ctx context.Context) (int, error) {
	cs := s.wechatSecurity
	cs.mu.Lock()
	ids := make([]string, 0, len(cs.pending))
	for id := range cs.pending {
		ids = append(ids, id)
	}
	cs.mu.Unlock()
	n := 0
	var errs []error
	for _, id := range ids {
		res, err := s.wechatPush.now(ctx, id, mediaCheckEventName, s.mediaCheckMessage(id))
		if err == nil && !wechatPushAcked(res.Status, res.Reply) {
			err = fmt.Errorf("sandbox: push of %s answered %d %q", id, res.Status, res.Reply)
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}

// PushMediaCheck pushes a wxa_media_check event for traceID with the given
// verdict, whether or not the sandbox issued that trace, and returns the
// reply status: tests use it to deliver the same verdict twice.
func (s *Server) PushMediaCheck(ctx context.Context, traceID, suggest string) (int, string, error) {
	res, err := s.wechatPush.now(ctx, "verdict:"+traceID, mediaCheckEventName, func() ([]byte, error) {
		return json.Marshal(mediaCheckEvent(s.settings.WeChatAppID, traceID, "", suggest))
	})
	return res.Status, res.Reply, err
}

// MsgSecChecks returns how many msgSecCheck calls the sandbox answered.
func (s *Server) MsgSecChecks() int {
	s.wechatSecurity.mu.Lock()
	defer s.wechatSecurity.mu.Unlock()
	return s.wechatSecurity.texts
}

// pendingMediaCheck returns a submitted image check whose verdict WeChat
// has not yet had acknowledged.
func (s *Server) pendingMediaCheck(traceID string) (mediaCheck, bool) {
	cs := s.wechatSecurity
	cs.mu.Lock()
	defer cs.mu.Unlock()
	c, ok := cs.pending[traceID]
	return c, ok
}

// mediaCheckMessage returns the maker of a pending check's verdict push,
// with the verdict as it stands at each attempt.
func (s *Server) mediaCheckMessage(traceID string) func() ([]byte, error) {
	return func() ([]byte, error) {
		cs := s.wechatSecurity
		cs.mu.Lock()
		c := cs.pending[traceID]
		suggest, set := cs.verdicts[c.url]
		cs.mu.Unlock()
		if !set {
			suggest, _ = suggestOf(c.url)
		}
		return json.Marshal(mediaCheckEvent(s.settings.WeChatAppID, traceID, c.openID, suggest))
	}
}

// mediaCheckDone forgets a check once its verdict was acknowledged.
func (s *Server) mediaCheckDone(traceID string) {
	cs := s.wechatSecurity
	cs.mu.Lock()
	delete(cs.pending, traceID)
	cs.mu.Unlock()
}

// mediaCheckEventName is the push event of an image's verdict.
const mediaCheckEventName = "wxa_media_check"

// mediaCheckEvent is the JSON message of a wxa_media_check push.
func mediaCheckEvent(appID, traceID, openID, suggest string) map[string]any {
	label := 100
	if suggest != "pass" {
		_, label = suggestOf(map[string]string{"risky": KeywordRisky, "review": KeywordReview}[suggest])
	}
	return map[string]any{
		"ToUserName": "gh_sandbox", "FromUserName": openID, "CreateTime": time.Now().Unix(),
		"MsgType": "event", "Event": mediaCheckEventName, "appid": appID, "trace_id": traceID, "version": 2,
		"detail":  []map[string]any{{"strategy": "content_model", "errcode": 0, "suggest": suggest, "label": label, "prob": 90}},
		"errcode": 0, "errmsg": "ok",
		"result": map[string]any{"suggest": suggest, "label": label},
	}
}

// wechatControlDeliverMediaChecks serves POST /_sandbox/wechat/media-check/deliver.
func (s *Server) wechatControlDeliverMediaChecks(w http.ResponseWriter, r *http.Request) {
	n, err := s.DeliverMediaChecks(r.Context())
	out := map[string]any{"delivered": n}
	if err != nil {
		out["error"] = err.Error()
	}
	writeJSON(w, http.StatusOK, out)
}

// SetSecurityOutage makes the next n content-security calls answer -1.
func (s *Server) SetSecurityOutage(n int) {
	s.wechatSecurity.mu.Lock()
	s.wechatSecurity.outage = n
	s.wechatSecurity.mu.Unlock()
}

// mediaVerdictControl is the body of POST /_sandbox/wechat/media-check.
type mediaVerdictControl struct {
	MediaURL string `json:"media_url"`
	Suggest  string `json:"suggest"`
}

// securityOutageControl is the body of POST /_sandbox/wechat/security/outage.
type securityOutageControl struct {
	Calls int `json:"calls"`
}
