package sandbox

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// The courier tracking API (kuaidi100), as the platform does it:
//
//   - POST /poll (form schema=json, param) subscribes a waybill: the key in
//     param must be ours; a waybill subscribed again answers returnCode 501.
//   - POST /poll/query.do (form customer, param, sign) answers the
//     waybill's events; sign must be the upper-case MD5 of param + key +
//     customer. While the courier is down (a control) it answers HTTP 503.
//   - POST /_sandbox/courier/advance {"tracking_no"} moves a parcel to its
//     next state (collected, in transit, out for delivery, signed) and
//     pushes the whole track to the subscription's callback URL, form param
//     and sign = upper-case MD5 of param + salt, during the call, through a
//     Notifier (every push recorded by waybill).
//   - POST /_sandbox/courier/repush {"tracking_no"} delivers the last push
//     again; POST /_sandbox/courier/outage {"down":true|false}.

// courierStep is one state of a simulated parcel's journey.
type courierStep struct {
	state, code, status, context, area string
}

// courierJourney is the way every sandbox parcel goes.
var courierJourney = []courierStep{
	{"1", "103", "揽收", "快件已被揽收", "广东省深圳市"},
	{"0", "1002", "在途", "快件已发往目的地转运中心", "浙江省杭州市"},
	{"5", "501", "派件", "快件正在派送中，派件员：张三", "浙江省杭州市西湖区"},
	{"3", "301", "签收", "快件已签收，签收人：本人", "浙江省杭州市西湖区"},
}

type courierEvent struct {
	Time       string `json:"time"`
	FTime      string `json:"ftime"`
	Context    string `json:"context"`
	Location   string `json:"location"`
	AreaName   string `json:"areaName"`
	Status     string `json:"status"`
	StatusCode string `json:"statusCode"`
}

type courierParcel struct {
	com, num  string
	callback  string
	salt      string
	phone     string
	step      int // journey steps done
	events    []courierEvent
	lastParam string
	lastSign  string
}

type courierTracking struct {
	notes *Notifier // pushes, by waybill number

	mu      sync.Mutex
	parcels map[string]*courierParcel // by number
	queries map[string]int            // by number
	down    bool
}

// courierAcked is kuaidi100's rule: a push is received when the callback
// answers {"result":true,"returnCode":"200"}.
func courierAcked(_ int, body string) bool {
	var r struct {
		Result     bool   `json:"result"`
		ReturnCode string `json:"returnCode"`
	}
	return json.Unmarshal([]byte(body), &r) == nil && r.Result && r.ReturnCode == "200"
}

func (s *Server) registerCourier() {
	s.settings.CourierKey = "sandbox-key-" + randomHex(8)
	s.settings.CourierCustomer = strings.ToUpper(randomHex(16))
	s.settings.CourierSalt = "sandbox-salt-" + randomHex(8)
	// The sandbox pushes during the control call and does not retry.
	s.courier = &courierTracking{notes: NewNotifier(nil, courierAcked),
		parcels: map[string]*courierParcel{}, queries: map[string]int{}}
	s.mux.HandleFunc("POST /poll", s.courierSubscribe)
	s.mux.HandleFunc("POST /poll/query.do", s.courierQuery)
	s.mux.HandleFunc("POST /_sandbox/courier/advance", courierWaybillControl(s.AdvanceParcel))
	s.mux.HandleFunc("POST /_sandbox/courier/repush", courierWaybillControl(s.RepushParcel))
	s.mux.HandleFunc("POST /_sandbox/courier/outage", control(nil, usage(`body must be {"down":true}`),
		func(_ *http.Request, q courierOutageControl) (any, error) { s.SetCourierDown(q.Down); return q, nil },
		failWith(http.StatusBadRequest)))
}

func courierSign(parts ...string) string {
	h := md5.Sum([]byte(strings.Join(parts, "")))
	return strings.ToUpper(hex.EncodeToString(h[:]))
}

func courierReply(w http.ResponseWriter, ok bool, code, msg string) {
	writeJSON(w, http.StatusOK, map[string]any{"result": ok, "returnCode": code, "message": msg})
}

func (s *Server) courierSubscribe(w http.ResponseWriter, r *http.Request) {
	var p struct {
		Company    string `json:"company"`
		Number     string `json:"number"`
		Key        string `json:"key"`
		Parameters struct {
			CallbackURL string `json:"callbackurl"`
			Salt        string `json:"salt"`
			Phone       string `json:"phone"`
		} `json:"parameters"`
	}
	if r.PostFormValue("schema") != "json" || json.Unmarshal([]byte(r.PostFormValue("param")), &p) != nil {
		courierReply(w, false, "700", "订阅参数错误")
		return
	}
	switch {
	case p.Key != s.settings.CourierKey:
		courierReply(w, false, "600", "您不是合法的订阅者（即授权Key出错）")
		return
	case p.Company == "" || p.Number == "" || p.Parameters.CallbackURL == "":
		courierReply(w, false, "700", "订阅参数错误")
		return
	case (p.Company == "shunfeng" || p.Company == "zhongtong") && len(p.Parameters.Phone) < 4:
		courierReply(w, false, "700", "顺丰、中通订阅需提供收件人手机号")
		return
	}
	c := s.courier
	c.mu.Lock()
	defer c.mu.Unlock()
	if old, ok := c.parcels[p.Number]; ok && old.callback != "" {
		courierReply(w, false, "501", "重复订阅")
		return
	}
	c.parcels[p.Number] = &courierParcel{com: p.Company, num: p.Number, callback: p.Parameters.CallbackURL,
		salt: p.Parameters.Salt, phone: p.Parameters.Phone}
	courierReply(w, true, "200", "提交成功")
}

// track is the parcel's answer body (query and push), newest event first.
func (p *courierParcel) track() map[string]any {
	state, check := "0", "0"
	if p.step > 0 {
		state = courierJourney[p.step-1].state
	}
	if state == "3" {
		check = "1"
	}
	data := make([]courierEvent, len(p.events))
	for i, e := range p.events {
		data[len(p.events)-1-i] = e
	}
	return map[string]any{"message": "ok", "status": "200", "state": state, "ischeck": check, "condition": "F00",
		"com": p.com, "nu": p.num, "data": data}
}

func (s *Server) courierQuery(w http.ResponseWriter, r *http.Request) {
	c := s.courier
	c.mu.Lock()
	down := c.down
	c.mu.Unlock()
	if down {
		http.Error(w, "service unavailable", http.StatusServiceUnavailable)
		return
	}
	param, customer := r.PostFormValue("param"), r.PostFormValue("customer")
	if customer != s.settings.CourierCustomer || r.PostFormValue("sign") != courierSign(param, s.settings.CourierKey, customer) {
		courierReply(w, false, "408", "验证签名失败")
		return
	}
	var q struct {
		Com   string `json:"com"`
		Num   string `json:"num"`
		Phone string `json:"phone"`
	}
	if json.Unmarshal([]byte(param), &q) != nil || q.Com == "" || q.Num == "" {
		courierReply(w, false, "400", "找不到对应公司")
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.queries[q.Num]++
	p, ok := c.parcels[q.Num]
	if !ok || len(p.events) == 0 {
		courierReply(w, false, "500", "查询无结果，请隔段时间再查")
		return
	}
	if (q.Com == "shunfeng" || q.Com == "zhongtong") && (len(q.Phone) < 4 || !strings.HasSuffix(p.phone, q.Phone[len(q.Phone)-4:])) {
		courierReply(w, false, "408", "手机号后四位不正确")
		return
	}
	writeJSON(w, http.StatusOK, p.track())
}

// CourierQueries returns how many real-time queries named a waybill.
func (s *Server) CourierQueries(number string) int {
	s.courier.mu.Lock()
	defer s.courier.mu.Unlock()
	return s.courier.queries[number]
}

// SetCourierDown makes queries answer HTTP 503 (or work again).
func (s *Server) SetCourierDown(down bool) {
	s.courier.mu.Lock()
	defer s.courier.mu.Unlock()
	s.courier.down = down
}

// CourierPushResult is the outcome of an advance or a repush.
type CourierPushResult struct {
	State  string `json:"state"`
	Pushed bool   `json:"pushed"`
	Status int    `json:"status,omitempty"`
	Reply  string `json:"reply,omitempty"`
}

// AdvanceParcel moves a waybill (subscribed or not) one step along its
// journey and pushes its track to the subscription's callback.
func (s *Server) AdvanceParcel(number string) (CourierPushResult, error) {
	c := s.courier
	c.mu.Lock()
	p, ok := c.parcels[number]
	if !ok {
		p = &courierParcel{num: number}
		c.parcels[number] = p
	}
	if p.step >= len(courierJourney) {
		c.mu.Unlock()
		return CourierPushResult{}, errors.New("sandbox: the parcel is already signed")
	}
	st := courierJourney[p.step]
	p.step++
	now := time.Now().In(beijingZone).Format("2006-01-02 15:04:05")
	p.events = append(p.events, courierEvent{Time: now, FTime: now, Context: st.context, Location: st.area,
		AreaName: st.area, Status: st.status, StatusCode: st.code})
	res := CourierPushResult{State: st.state}
	if p.callback != "" {
		param, err := json.Marshal(map[string]any{"status": "polling", "billstatus": "got", "message": "",
			"lastResult": p.track()})
		if err != nil {
			c.mu.Unlock()
			return CourierPushResult{}, err
		}
		p.lastParam, p.lastSign = string(param), courierSign(string(param), p.salt)
	}
	callback, param, sign := p.callback, p.lastParam, p.lastSign
	c.mu.Unlock()
	if callback == "" {
		return res, nil
	}
	return s.courierPush(res, number, callback, param, sign)
}

// RepushParcel delivers the last push of a waybill again.
func (s *Server) RepushParcel(number string) (CourierPushResult, error) {
	c := s.courier
	c.mu.Lock()
	p, ok := c.parcels[number]
	if !ok || p.lastParam == "" {
		c.mu.Unlock()
		return CourierPushResult{}, errors.New("sandbox: nothing was pushed for this waybill")
	}
	res := CourierPushResult{State: courierJourney[p.step-1].state}
	callback, param, sign := p.callback, p.lastParam, p.lastSign
	c.mu.Unlock()
	return s.courierPush(res, number, callback, param, sign)
}

// LastCourierPush returns the last push of a waybill (param and sign), so
// tests can deliver it themselves, tampered or not.
func (s *Server) LastCourierPush(number string) (param, sign string, ok bool) {
	s.courier.mu.Lock()
	defer s.courier.mu.Unlock()
	p, found := s.courier.parcels[number]
	if !found || p.lastParam == "" {
		return "", "", false
	}
	return p.lastParam, p.lastSign, true
}

// courierPush posts a waybill's track to its callback once, now.
func (s *Server) courierPush(res CourierPushResult, number, callback, param, sign string) (CourierPushResult, error) {
	d := s.courier.notes.Now(context.Background(), number, 1, func() (Notification, error) {
		form := url.Values{"param": {param}, "sign": {sign}}
		return Notification{URL: callback, Header: http.Header{"Content-Type": {"application/x-www-form-urlencoded"}},
			Body: []byte(form.Encode()), Event: "track", Genuine: true}, nil
	})[0]
	if d.Error != "" {
		return res, errors.New(d.Error)
	}
	res.Pushed, res.Status, res.Reply = true, d.Status, d.Body
	return res, nil
}

// courierWaybillControl serves a control that acts on one waybill
// {"tracking_no"}: advance (AdvanceParcel) or repush (RepushParcel). A
// waybill it cannot act on answers 409.
func courierWaybillControl(act func(number string) (CourierPushResult, error)) http.HandlerFunc {
	return control(func(q courierWaybill) bool { return q.TrackingNo != "" }, usage(`body must be {"tracking_no":"..."}`),
		func(_ *http.Request, q courierWaybill) (any, error) { return act(strings.ToUpper(q.TrackingNo)) },
		failWith(http.StatusConflict))
}

// courierWaybill is the body of the waybill controls.
type courierWaybill struct {
	TrackingNo string `json:"tracking_no"`
}

// courierOutageControl is the body of POST /_sandbox/courier/outage.
type courierOutageControl struct {
	Down bool `json:"down"`
}
