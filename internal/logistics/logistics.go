// Package logistics owns parcels: the outbound parcels of an order and the
// parcels other modules register (a customer's return, an exchange's
// replacement), their tracking events from the courier API (kuaidi100), the
// WeChat shipping-info upload every WeChat-paid order owes WeChat, and the
// WeChat events about receipt.
//
// Its rules:
//   - The order module stays the owner of order states. Shipping runs one
//     transaction in which order.Service.MarkShipped moves the order
//     paid → shipped and this module writes the parcels, the outbox rows and
//     the audit entry.
//   - Platform calls (WeChat upload_shipping_info and
//     notify_confirm_receive, the courier subscription) are never made
//     inside a transaction: each is an outbox row written with the change
//     and delivered after commit, once at once and then by the
//     logistics-outbox job with backoff. A row is claimed by a conditional
//     update that sets a lease, and settled only while the lease holds, so
//     two instances never deliver one row at the same time.
//   - A courier push is believed only when its signature (MD5 of param and
//     salt) verifies; its events are stored once each (a unique fingerprint
//     per parcel), and a parcel's state only follows a newer event.
//   - Real-time courier queries happen at most once per waybill per 30
//     minutes across instances (a conditional update on parcels.queried_at);
//     a courier outage never fails tracking: it answers the stored events
//     with stale true.
//   - When every parcel of an order is signed, the order records
//     delivered_at and, for WeChat-paid orders, WeChat is asked once to
//     remind the buyer (notify_confirm_receive). WeChat's settlement event
//     (the buyer confirmed receipt inside WeChat) completes the order with
//     actor platform; a second one changes nothing.
package logistics

import (
	"strings"
	"time"
	"unicode"

	"github.com/minimall/minimall/internal/apperr"
)

// Kinds of parcels.
const (
	// KindOrder is an order's outbound parcel; RefID is the order id.
	KindOrder = "order"
	// KindReturn is a parcel a customer sends back (after-sales).
	KindReturn = "return"
	// KindReplacement is an exchange's replacement parcel (after-sales).
	KindReplacement = "replacement"
)

// Tracking states, normalised from the courier's codes.
const (
	StateCollected      = "collected"
	StateInTransit      = "in_transit"
	StateOutForDelivery = "out_for_delivery"
	StateSigned         = "signed"
	StateProblem        = "problem"
	StateReturning      = "returning"
	StateReturned       = "returned"
)

// Parcel is a waybill the shop follows.
type Parcel struct {
	ID         int64
	Kind       string
	RefID      int64
	Carrier    string
	TrackingNo string
	Phone      string
	State      string // "" until the courier reports
	StateCode  string // the courier's raw state code
	StaffID    int64
	ItemIDs    []int64 // order lines in the parcel (KindOrder)
	SignedAt   *time.Time
	EventAt    *time.Time // time of the newest event
	QueriedAt  *time.Time // last time the courier told us about the waybill
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Event is one tracking event of a parcel.
type Event struct {
	ID          int64
	ParcelID    int64
	Time        time.Time
	Description string
	Location    string
	State       string
	RawCode     string
	RawStatus   string
}

// carrierCodes are a carrier's codes at the courier API and at WeChat.
type carrierCodes struct {
	Kuaidi100 string
	WeChat    string // express_company of upload_shipping_info
}

// carrierTable maps minimall's carrier codes (API.md) to kuaidi100's company
// codes and WeChat's delivery ids: the one place they live.
var carrierTable = map[string]carrierCodes{
	"SF":  {Kuaidi100: "shunfeng", WeChat: "SF"},
	"ZTO": {Kuaidi100: "zhongtong", WeChat: "ZTO"},
	"YTO": {Kuaidi100: "yuantong", WeChat: "YTO"},
	"YD":  {Kuaidi100: "yunda", WeChat: "YD"},
	"STO": {Kuaidi100: "shentong", WeChat: "STO"},
	"JT":  {Kuaidi100: "jtexpress", WeChat: "JTSD"},
	"JD":  {Kuaidi100: "jd", WeChat: "JD"},
	"EMS": {Kuaidi100: "ems", WeChat: "EMS"},
}

// Kuaidi100Code returns kuaidi100's company code of a carrier.
func Kuaidi100Code(carrier string) (string, bool) {
	c, ok := carrierTable[carrier]
	return c.Kuaidi100, ok
}

// WeChatCode returns WeChat's express_company code of a carrier.
func WeChatCode(carrier string) (string, bool) {
	c, ok := carrierTable[carrier]
	return c.WeChat, ok
}

func carrierOfKuaidi100(com string) (string, bool) {
	for code, c := range carrierTable {
		if c.Kuaidi100 == com {
			return code, true
		}
	}
	return "", false
}

// needsPhone lists the carriers whose queries need the receiver's phone
// (kuaidi100 checks its last four digits), and whose WeChat upload needs the
// masked contact.
func needsPhone(carrier string) bool { return carrier == "SF" || carrier == "ZTO" }

// MaxTrackingNoLen and MinTrackingNoLen bound a tracking number.
const (
	MinTrackingNoLen = 6
	MaxTrackingNoLen = 32
)

// normaliseTrackingNo upper-cases and checks a tracking number: 6 to 32 of
// [A-Za-z0-9-].
func normaliseTrackingNo(s string) (string, error) {
	s = strings.ToUpper(strings.TrimSpace(s))
	ok := len(s) >= MinTrackingNoLen && len(s) <= MaxTrackingNoLen
	for _, r := range s {
		if !(r == '-' || r < unicode.MaxASCII && (unicode.IsDigit(r) || unicode.IsUpper(r))) {
			ok = false
		}
	}
	if !ok {
		return "", apperr.Invalid("tracking_no must be 6 to 32 letters, digits or dashes", "tracking_no")
	}
	return s, nil
}

// maskPhone keeps the first three and the last four digits, as WeChat asks
// for receiver_contact.
func maskPhone(p string) string {
	if len(p) < 8 {
		return p
	}
	return p[:3] + strings.Repeat("*", len(p)-7) + p[len(p)-4:]
}

// NormaliseState maps a kuaidi100 state or sub-state code to a tracking
// state. Top-level codes: 0 在途, 1 揽收, 2 疑难, 3 签收, 4 退签, 5 派件,
// 6 退回, 7 转投, 8 清关, 10-13 customs and 14 拒签; with resultv2=4 the
// sub-states are three digits (101 已下单, 301 本人签收, 501 投柜, ...) or,
// for the in-transit family, four (1001 到达派件城市, ...).
func NormaliseState(code string) string {
	switch {
	case code == "":
		return ""
	case len(code) == 4 && strings.HasPrefix(code, "10"):
		return StateInTransit
	case len(code) == 3:
		code = code[:1]
	}
	switch code {
	case "1":
		return StateCollected
	case "0", "7", "8", "10", "11", "12", "13":
		return StateInTransit
	case "5":
		return StateOutForDelivery
	case "3":
		return StateSigned
	case "2", "14":
		return StateProblem
	case "6":
		return StateReturning
	case "4":
		return StateReturned
	}
	return StateInTransit
}
