package logistics_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/logistics"
	"github.com/minimall/minimall/internal/platform/courier"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// A WeChat-paid order ships; WeChat fails the first two uploads; the job
// runs on two instances at once each time: exactly one upload is accepted,
// after three calls, and the order shows uploaded.
func TestWeChatUploadOnceDespiteFailuresAndTwoInstances(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "alice")
		id, _, txn := s.paidOrder("wechat", tok, addr, s.sku(1999))
		s.sb.FailWeChatShipping(-1, 2)

		r := s.ship(id, map[string]string{"carrier": "SF", "tracking_no": "sf1234567890"})
		if r.status != 200 || r.body["status"] != "shipped" || len(r.list("parcels")) != 1 {
			t.Fatalf("ship = %d %s", r.status, r.raw)
		}
		if u := upload(r.body); u["state"] != "pending" || num(u["errcode"]) != -1 || num(u["attempts"]) != 1 {
			t.Fatalf("upload after the first try = %v", u)
		}
		// Not due yet: nothing is claimed.
		if n := s.runOutbox(2); n != 0 {
			t.Fatalf("claimed %d rows before the backoff ran out", n)
		}
		s.clk.Advance(time.Minute)
		if n := s.runOutbox(2); n != 1 {
			t.Fatalf("two instances claimed %d rows, want 1", n)
		}
		if u := upload(s.order(id)); u["state"] != "pending" || num(u["attempts"]) != 2 {
			t.Fatalf("upload after the second try = %v", u)
		}
		s.clk.Advance(time.Hour)
		if n := s.runOutbox(2); n != 1 {
			t.Fatalf("two instances claimed %d rows, want 1", n)
		}
		o := s.order(id)
		if u := upload(o); u["state"] != "uploaded" || num(u["attempts"]) != 3 || u["at"] == nil {
			t.Fatalf("upload = %v", u)
		}
		uploads, calls := s.sb.WeChatShippingUploads(txn)
		if len(uploads) != 1 || calls != 3 {
			t.Fatalf("accepted uploads = %d, calls = %d; want 1 and 3", len(uploads), calls)
		}
		up := uploads[0]
		sl := up.ShippingList[0]
		if up.OrderKey.OrderNumberType != 2 || up.OrderKey.TransactionID != txn || up.DeliveryMode != 1 ||
			up.LogisticsType != 1 || sl.ExpressCompany != "SF" || sl.TrackingNo != "SF1234567890" ||
			sl.Contact.ReceiverContact != "139****9000" || !strings.Contains(sl.ItemDesc, "耳机") || up.Payer.Openid != s.sb.WeChatOpenID("alice") {
			t.Errorf("uploaded body = %+v", up)
		}
		// Nothing is left for the job.
		s.clk.Advance(24 * time.Hour)
		if n := s.runOutbox(2); n != 0 {
			t.Errorf("claimed %d rows after everything was delivered", n)
		}
		if _, calls := s.sb.WeChatShippingUploads(txn); calls != 3 {
			t.Errorf("upload calls = %d after the job ran again, want 3", calls)
		}
	})
}

// WeChat revoked the cached access token: the client fetches a new one and
// the upload goes through on its first attempt.
func TestRevokedAccessTokenIsRefreshedOnce(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "carol")
		first, _, _ := s.paidOrder("wechat", tok, addr, s.sku(500))
		second, _, txn := s.paidOrder("wechat", tok, addr, s.sku(600))
		if r := s.ship(first, map[string]string{"carrier": "YTO", "tracking_no": "YT0000000001"}); upload(r.body)["state"] != "uploaded" {
			t.Fatalf("first ship = %s", r.raw)
		}
		s.sb.ExpireWeChatTokens()
		r := s.ship(second, map[string]string{"carrier": "YTO", "tracking_no": "YT0000000002"})
		if u := upload(r.body); u["state"] != "uploaded" || num(u["attempts"]) != 1 {
			t.Fatalf("upload with a revoked token = %v", u)
		}
		if uploads, _ := s.sb.WeChatShippingUploads(txn); len(uploads) != 1 {
			t.Errorf("uploads = %d, want 1", len(uploads))
		}
	})
}

// An Alipay-paid order owes WeChat nothing: not_required, and no call.
func TestAlipayOrderUploadNotRequired(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("alipay", "bob")
		id, _, _ := s.paidOrder("alipay", tok, addr, s.sku(1000))
		r := s.ship(id, map[string]string{"carrier": "ZTO", "tracking_no": "ZT7531598520"})
		if r.status != 200 || upload(r.body)["state"] != "not_required" {
			t.Fatalf("ship = %d %s", r.status, r.raw)
		}
		s.clk.Advance(time.Hour)
		s.runOutbox(1)
		if _, calls := s.sb.WeChatShippingUploads(""); calls != 0 {
			t.Errorf("upload calls = %d, want 0", calls)
		}
		r = s.api("POST", fmt.Sprintf("/api/v1/admin/orders/%d/shipping-upload/retry", id), s.staffTk, nil)
		if r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Errorf("retry of a not-required upload = %d %s", r.status, r.raw)
		}
	})
}

// A permanent refusal is shown as failed with WeChat's errcode and errmsg;
// staff re-queue it and it goes through.
func TestFailedUploadRetriedByStaff(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "dave")
		id, _, txn := s.paidOrder("wechat", tok, addr, s.sku(800))
		s.sb.FailWeChatShipping(10060003, 1)
		r := s.ship(id, map[string]string{"carrier": "JD", "tracking_no": "JD0001234567"})
		u := upload(r.body)
		if u["state"] != "failed" || num(u["errcode"]) != 10060003 || u["errmsg"] == "" {
			t.Fatalf("upload = %v", u)
		}
		s.clk.Advance(24 * time.Hour)
		if n := s.runOutbox(1); n != 0 {
			t.Fatalf("the job retried a permanent failure (%d)", n)
		}
		s.staffTk = s.staff(auth.RoleWarehouse) // staff tokens last 8 hours
		r = s.api("GET", "/api/v1/admin/orders?shipping_upload=failed", s.staffTk, nil)
		if r.status != 200 || num(r.body["total"]) != 1 {
			t.Errorf("orders with a failed upload = %d %s", r.status, r.raw)
		}
		r = s.api("POST", fmt.Sprintf("/api/v1/admin/orders/%d/shipping-upload/retry", id), s.staffTk, nil)
		if r.status != 200 || upload(r.body)["state"] != "uploaded" {
			t.Fatalf("retry = %d %s", r.status, r.raw)
		}
		if uploads, _ := s.sb.WeChatShippingUploads(txn); len(uploads) != 1 {
			t.Errorf("uploads = %d, want 1", len(uploads))
		}
	})
}

func TestShipValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "erin")
		a, b := s.sku(100), s.sku(200)
		id, items, _ := s.paidOrder("wechat", tok, addr, a, b)
		other, otherItems, _ := s.paidOrder("wechat", tok, addr, a)
		bad := []struct {
			name string
			body any
		}{
			{"unknown carrier", map[string]string{"carrier": "DHL", "tracking_no": "SF1234567890"}},
			{"short number", map[string]string{"carrier": "SF", "tracking_no": "12345"}},
			{"long number", map[string]string{"carrier": "SF", "tracking_no": strings.Repeat("1", 33)}},
			{"bad character", map[string]string{"carrier": "SF", "tracking_no": "SF1234 567"}},
			{"split without items", map[string]any{"parcels": []map[string]any{{"carrier": "SF", "tracking_no": "SF0000000001"}, {"carrier": "SF", "tracking_no": "SF0000000002"}}}},
			{"item left out", map[string]any{"parcels": []map[string]any{{"carrier": "SF", "tracking_no": "SF0000000001", "item_ids": []int64{items[0]}}, {"carrier": "SF", "tracking_no": "SF0000000002", "item_ids": []int64{}}}}},
			{"item twice", map[string]any{"parcels": []map[string]any{{"carrier": "SF", "tracking_no": "SF0000000001", "item_ids": items}, {"carrier": "SF", "tracking_no": "SF0000000002", "item_ids": []int64{items[1]}}}}},
			{"another order's item", map[string]any{"parcels": []map[string]any{{"carrier": "SF", "tracking_no": "SF0000000001", "item_ids": []int64{items[0], otherItems[0]}}, {"carrier": "SF", "tracking_no": "SF0000000002", "item_ids": []int64{items[1]}}}}},
			{"waybill twice", map[string]any{"parcels": []map[string]any{{"carrier": "SF", "tracking_no": "SF0000000001", "item_ids": []int64{items[0]}}, {"carrier": "SF", "tracking_no": "SF0000000001", "item_ids": []int64{items[1]}}}}},
			{"both shapes", map[string]any{"carrier": "SF", "tracking_no": "SF0000000001", "parcels": []map[string]any{{"carrier": "SF", "tracking_no": "SF0000000002"}}}},
		}
		for _, tt := range bad {
			t.Run(tt.name, func(t *testing.T) {
				r := s.ship(id, tt.body)
				if r.status != http.StatusBadRequest || r.errCode() != "invalid_argument" {
					t.Errorf("ship = %d %s, want 400 invalid_argument", r.status, r.raw)
				}
			})
		}
		if st := s.order(id)["status"]; st != "paid" || s.count("SELECT COUNT(*) FROM parcels") != 0 {
			t.Fatalf("refused ships changed something: %v", st)
		}
		// Staff shipping from two screens at once: one shipment.
		var wg sync.WaitGroup
		statuses := make([]int, 6)
		for i := range statuses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i] = s.ship(other, map[string]string{"carrier": "SF", "tracking_no": "SF5555555555"}).status
			}()
		}
		wg.Wait()
		ok := 0
		for _, st := range statuses {
			if st == 200 {
				ok++
			} else if st != http.StatusConflict {
				t.Errorf("concurrent ship answered %d", st)
			}
		}
		if ok != 1 || s.count("SELECT COUNT(*) FROM parcels WHERE ref_id = ?", other) != 1 {
			t.Errorf("%d ships succeeded; want exactly 1 with one parcel", ok)
		}
		r := s.ship(other, map[string]string{"carrier": "SF", "tracking_no": "SF5555555555"})
		if r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Errorf("ship twice = %d %s", r.status, r.raw)
		}
		if n := s.count("SELECT COUNT(*) FROM audit_logs WHERE action = 'order.ship' AND target_id = ?", fmt.Sprint(other)); n != 1 {
			t.Errorf("audit rows = %d, want 1", n)
		}
	})
}

// Courier pushes: a bad sign stores nothing (400); a good push delivered
// twice stores its events once; a push for an unknown waybill is
// acknowledged and ignored.
func TestCourierPushes(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "frank")
		id, _, _ := s.paidOrder("wechat", tok, addr, s.sku(300))
		s.ship(id, map[string]string{"carrier": "YD", "tracking_no": "YD1000000001"})

		res, err := s.sb.AdvanceParcel("YD1000000001")
		must(t, err)
		if !res.Pushed || res.Status != 200 || res.Reply != courier.PushReply {
			t.Fatalf("push = %+v", res)
		}
		events := s.count("SELECT COUNT(*) FROM tracking_events")
		if events != 1 {
			t.Fatalf("events = %d, want 1", events)
		}
		param, sign, _ := s.sb.LastCourierPush("YD1000000001")
		tests := []struct {
			name       string
			param      string
			sign       string
			wantStatus int
			wantEvents int64
		}{
			{"bad sign", param, strings.Repeat("A", 32), 400, 1},
			{"tampered param", strings.Replace(param, "揽收", "揽收了", 1), sign, 400, 1},
			{"no sign", param, "", 400, 1},
			{"same push again", param, sign, 200, 1},
			{"unknown waybill", unknownPush(s), courier.Sign(unknownPush(s), s.env["MINIMALL_COURIER_SALT"]), 200, 1},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := s.form("/api/v1/notify/courier", url.Values{"param": {tt.param}, "sign": {tt.sign}})
				if r.status != tt.wantStatus {
					t.Fatalf("status = %d %s, want %d", r.status, r.raw, tt.wantStatus)
				}
				if tt.wantStatus == 200 && strings.TrimSpace(r.raw) != courier.PushReply {
					t.Errorf("reply = %s", r.raw)
				}
				if n := s.count("SELECT COUNT(*) FROM tracking_events"); n != tt.wantEvents {
					t.Errorf("events = %d, want %d", n, tt.wantEvents)
				}
			})
		}
		if _, err := s.sb.AdvanceParcel("YD1000000001"); err != nil {
			t.Fatal(err)
		}
		if n := s.count("SELECT COUNT(*) FROM tracking_events"); n != 2 {
			t.Errorf("events after the next push = %d, want 2", n)
		}
		if st := s.count("SELECT COUNT(*) FROM parcels WHERE state = ?", logistics.StateInTransit); st != 1 {
			t.Errorf("parcels in transit = %d, want 1", st)
		}
	})
}

func unknownPush(s *shop) string {
	return `{"status":"polling","billstatus":"got","message":"","lastResult":{"message":"ok","status":"200","state":"0",` +
		`"ischeck":"0","com":"yunda","nu":"YD9999999999","data":[{"time":"2026-01-02 10:00:00","ftime":"2026-01-02 10:00:00",` +
		`"context":"在途","status":"在途","statusCode":"0"}]}}`
}

// Two parcels reach signed: delivered_at is recorded and WeChat is asked
// once to remind the buyer; a badly signed settlement push changes nothing;
// WeChat's settlement event completes the order (actor platform) and a
// second one changes nothing.
func TestDeliveryAndSettlement(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "grace")
		id, items, txn := s.paidOrder("wechat", tok, addr, s.sku(100), s.sku(200))
		r := s.ship(id, map[string]any{"parcels": []map[string]any{
			{"carrier": "SF", "tracking_no": "SF2000000001", "item_ids": []int64{items[0]}},
			{"carrier": "JT", "tracking_no": "JT2000000002", "item_ids": []int64{items[1]}},
		}})
		if r.status != 200 || len(r.list("parcels")) != 2 || upload(r.body)["state"] != "uploaded" {
			t.Fatalf("ship = %d %s", r.status, r.raw)
		}
		if ups, _ := s.sb.WeChatShippingUploads(txn); len(ups) != 1 || ups[0].DeliveryMode != 2 || !ups[0].IsAllDelivered ||
			len(ups[0].ShippingList) != 2 || ups[0].ShippingList[1].ExpressCompany != "JTSD" {
			t.Fatalf("split upload = %+v", ups)
		}
		for range 4 {
			_, err := s.sb.AdvanceParcel("SF2000000001")
			must(t, err)
		}
		if o := s.order(id); o["delivered_at"] != nil {
			t.Fatalf("delivered with one parcel of two signed")
		}
		for range 4 {
			_, err := s.sb.AdvanceParcel("JT2000000002")
			must(t, err)
		}
		o := s.order(id)
		if o["delivered_at"] == nil || o["status"] != "shipped" {
			t.Fatalf("after both parcels signed: %v, delivered_at %v", o["status"], o["delivered_at"])
		}
		if n := s.sb.WeChatConfirmNotices(txn); n != 1 {
			t.Fatalf("confirm-receipt reminders = %d, want 1", n)
		}
		// The signed push again: no second reminder.
		_, err := s.sb.RepushParcel("JT2000000002")
		must(t, err)
		s.clk.Advance(time.Hour)
		s.runOutbox(2)
		if n := s.sb.WeChatConfirmNotices(txn); n != 1 {
			t.Fatalf("confirm-receipt reminders after a repeated push = %d, want 1", n)
		}
		// The customer sees both parcels signed, newest event first.
		tr := s.api("GET", fmt.Sprintf("/api/v1/orders/%d/tracking", id), tok, nil)
		if tr.status != 200 || len(tr.list("parcels")) != 2 || tr.body["stale"] != false {
			t.Fatalf("tracking = %d %s", tr.status, tr.raw)
		}
		p0 := tr.list("parcels")[0].(map[string]any)
		ev := p0["events"].([]any)
		if p0["state"] != "signed" || p0["carrier_name"] != "顺丰" || len(ev) != 4 || ev[0].(map[string]any)["state"] != "signed" ||
			ev[3].(map[string]any)["state"] != "collected" {
			t.Errorf("parcel = %v", p0)
		}

		// A settlement push with a wrong signature: 401, nothing changes.
		bad := s.call(http.MethodPost, s.url+"/api/v1/notify/wechat?signature=0000&timestamp=1&nonce=x", "",
			`{"MsgType":"event","Event":"trade_manage_order_settlement","transaction_id":"`+txn+`","confirm_receive_method":2,"confirm_receive_time":1}`)
		if bad.status != http.StatusUnauthorized || s.order(id)["status"] != "shipped" {
			t.Fatalf("badly signed push = %d %s", bad.status, bad.raw)
		}
		res, err := s.sb.ConfirmReceipt(t.Context(), txn, 2)
		must(t, err)
		if res.Status != 200 || res.Reply != "success" {
			t.Fatalf("settlement push = %+v", res)
		}
		o = s.order(id)
		evs := o["events"].([]any)
		last := evs[len(evs)-1].(map[string]any)
		if o["status"] != "completed" || last["actor_type"] != "platform" || last["to"] != "completed" {
			t.Fatalf("after settlement: %v, last event %v", o["status"], last)
		}
		res, err = s.sb.ConfirmReceipt(t.Context(), txn, 2)
		must(t, err)
		if res.Status != 200 || res.Reply != "success" || len(s.order(id)["events"].([]any)) != len(evs) {
			t.Fatalf("second settlement push = %+v", res)
		}
	})
}

// Tracking: another customer's order is not found, an unshipped one is
// invalid_state; the courier is asked at most once per 30 minutes per
// waybill; with the courier down the stored events come back stale.
func TestTracking(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "heidi")
		other, _ := s.customer("wechat", "ivan")
		id, _, _ := s.paidOrder("wechat", tok, addr, s.sku(100))
		path := fmt.Sprintf("/api/v1/orders/%d/tracking", id)
		if r := s.api("GET", path, tok, nil); r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Fatalf("tracking before shipping = %d %s", r.status, r.raw)
		}
		s.ship(id, map[string]string{"carrier": "ZTO", "tracking_no": "ZT3000000001"})
		if r := s.api("GET", path, other, nil); r.status != http.StatusNotFound {
			t.Fatalf("another customer's tracking = %d %s", r.status, r.raw)
		}
		_, err := s.sb.AdvanceParcel("ZT3000000001")
		must(t, err)
		// The push just told us everything: no query.
		r := s.api("GET", path, tok, nil)
		if r.status != 200 || r.body["stale"] != false || s.sb.CourierQueries("ZT3000000001") != 0 {
			t.Fatalf("tracking = %d %s, queries %d", r.status, r.raw, s.sb.CourierQueries("ZT3000000001"))
		}
		s.clk.Advance(31 * time.Minute)
		for range 3 {
			if r := s.api("GET", path, tok, nil); r.status != 200 || r.body["stale"] != false {
				t.Fatalf("tracking = %d %s", r.status, r.raw)
			}
		}
		if n := s.sb.CourierQueries("ZT3000000001"); n != 1 {
			t.Fatalf("queries = %d, want 1 within 30 minutes", n)
		}
		s.sb.SetCourierDown(true)
		s.clk.Advance(31 * time.Minute)
		r = s.api("GET", path, tok, nil)
		p := r.list("parcels")
		if r.status != 200 || r.body["stale"] != true || len(p) != 1 || len(p[0].(map[string]any)["events"].([]any)) != 1 {
			t.Fatalf("tracking with the courier down = %d %s", r.status, r.raw)
		}
	})
}

// Staff tracking: staff see any order's tracking in the customer route's
// shape, newest event first; an unknown order is not_found, an unshipped
// one invalid_state; staff reads share the customer's rule of one courier
// query per waybill per 30 minutes; a customer token is forbidden.
func TestStaffTracking(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "kate")
		id, _, _ := s.paidOrder("wechat", tok, addr, s.sku(100))
		path := fmt.Sprintf("/api/v1/admin/orders/%d/tracking", id)
		viewer := s.staff(auth.RoleCustomerService)
		if r := s.api("GET", "/api/v1/admin/orders/999999/tracking", viewer, nil); r.status != http.StatusNotFound || r.errCode() != "not_found" {
			t.Fatalf("unknown order = %d %s", r.status, r.raw)
		}
		if r := s.api("GET", path, viewer, nil); r.status != http.StatusConflict || r.errCode() != "invalid_state" {
			t.Fatalf("tracking before shipping = %d %s", r.status, r.raw)
		}
		s.ship(id, map[string]string{"carrier": "YTO", "tracking_no": "YT5000000001"})
		for range 2 {
			_, err := s.sb.AdvanceParcel("YT5000000001")
			must(t, err)
		}
		if r := s.api("GET", path, tok, nil); r.status != http.StatusForbidden || r.errCode() != "forbidden" {
			t.Fatalf("customer token on the staff route = %d %s", r.status, r.raw)
		}
		r := s.api("GET", path, viewer, nil)
		mine := s.api("GET", fmt.Sprintf("/api/v1/orders/%d/tracking", id), tok, nil)
		if r.status != 200 || r.raw != mine.raw {
			t.Fatalf("staff tracking = %d %s, customer's = %s", r.status, r.raw, mine.raw)
		}
		p := r.list("parcels")
		if len(p) != 1 {
			t.Fatalf("parcels = %s", r.raw)
		}
		parcel := p[0].(map[string]any)
		ev := parcel["events"].([]any)
		if parcel["tracking_no"] != "YT5000000001" || len(ev) != 2 || ev[0].(map[string]any)["state"] != logistics.StateInTransit ||
			ev[1].(map[string]any)["state"] != logistics.StateCollected || ev[0].(map[string]any)["location"] == "" {
			t.Fatalf("staff tracking events = %s", r.raw)
		}
		if n := s.sb.CourierQueries("YT5000000001"); n != 0 {
			t.Fatalf("queries after pushes = %d, want 0", n)
		}
		s.clk.Advance(31 * time.Minute)
		for range 3 {
			if r := s.api("GET", path, viewer, nil); r.status != 200 || r.body["stale"] != false {
				t.Fatalf("staff tracking = %d %s", r.status, r.raw)
			}
		}
		if r := s.api("GET", fmt.Sprintf("/api/v1/orders/%d/tracking", id), tok, nil); r.status != 200 {
			t.Fatalf("customer tracking = %d %s", r.status, r.raw)
		}
		if n := s.sb.CourierQueries("YT5000000001"); n != 1 {
			t.Fatalf("queries = %d, want 1 within 30 minutes across staff and customer", n)
		}
	})
}

// Staff correct a parcel's waybill: it is subscribed again and the order's
// shipping information uploaded again.
func TestCorrectParcel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("wechat", "judy")
		id, _, txn := s.paidOrder("wechat", tok, addr, s.sku(100))
		pending, _, _ := s.paidOrder("wechat", tok, addr, s.sku(100))
		r := s.ship(id, map[string]string{"carrier": "STO", "tracking_no": "ST4000000001"})
		pid := num(r.list("parcels")[0].(map[string]any)["id"])
		path := fmt.Sprintf("/api/v1/admin/orders/%d/parcels/%d", id, pid)
		if r := s.api("PUT", fmt.Sprintf("/api/v1/admin/orders/%d/parcels/%d", pending, pid), s.staffTk,
			map[string]string{"tracking_no": "ST4000000002"}); r.status != http.StatusNotFound {
			t.Errorf("correct through another order = %d %s", r.status, r.raw)
		}
		r = s.api("PUT", path, s.staffTk, map[string]string{"carrier": "EMS", "tracking_no": "EM4000000002"})
		p := r.list("parcels")
		if r.status != 200 || len(p) != 1 || p[0].(map[string]any)["tracking_no"] != "EM4000000002" || upload(r.body)["state"] != "uploaded" {
			t.Fatalf("correct = %d %s", r.status, r.raw)
		}
		ups, _ := s.sb.WeChatShippingUploads(txn)
		if len(ups) != 2 || ups[1].ShippingList[0].TrackingNo != "EM4000000002" || ups[1].ShippingList[0].ExpressCompany != "EMS" {
			t.Fatalf("uploads = %+v", ups)
		}
		if res, err := s.sb.AdvanceParcel("EM4000000002"); err != nil || !res.Pushed {
			t.Fatalf("the corrected waybill is not subscribed: %+v %v", res, err)
		}
	})
}

// Another module registers a return parcel: it is subscribed and tracked
// like any parcel.
func TestTrackParcel(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		svc := s.a.Logistics()
		p, err := svc.TrackParcel(t.Context(), logistics.KindReturn, 42, "YTO", "yt5000000001", "13800138000")
		must(t, err)
		again, err := svc.TrackParcel(t.Context(), logistics.KindReturn, 42, "YTO", "YT5000000001", "13800138000")
		must(t, err)
		if again.ID != p.ID {
			t.Errorf("registered twice: %d and %d", p.ID, again.ID)
		}
		if res, err := s.sb.AdvanceParcel("YT5000000001"); err != nil || !res.Pushed || res.Status != 200 {
			t.Fatalf("push = %+v %v", res, err)
		}
		list, err := svc.ParcelsOf(t.Context(), logistics.KindReturn, []int64{42})
		must(t, err)
		tr, err := svc.Track(t.Context(), list)
		must(t, err)
		if len(tr.Parcels) != 1 || tr.Parcels[0].State != logistics.StateCollected || len(tr.Parcels[0].Events) != 1 {
			t.Errorf("tracking = %+v", tr)
		}
	})
}

// A refund approved while staff ship the order: the parcels never list the
// refunded line, whichever commits first. Shipping plans its parcels from a
// read made before its transaction; the line withheld by an approval that
// commits in between must still be left out (or the shipment refused).
func TestRefundApprovedWhileShippingNeverShipsTheLine(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		s := newShop(t, d)
		tok, addr := s.customer("alipay", "gina")
		a, b := s.sku(300), s.sku(400)
		owner := s.staff(auth.RoleOwner)
		const orders = 12
		for n := range orders {
			id, items, _ := s.paidOrder("alipay", tok, addr, a, b)
			req := s.api("POST", "/api/v1/aftersales", tok, map[string]any{"order_id": id, "type": "refund_only",
				"items": []map[string]any{{"order_item_id": items[0], "quantity": 1}}, "reason": "no_longer_needed"})
			if req.status != 201 {
				t.Fatalf("after-sale request: %d %s", req.status, req.raw)
			}
			var wg sync.WaitGroup
			wg.Add(2)
			go func() {
				defer wg.Done()
				if r := s.api("POST", fmt.Sprintf("/api/v1/admin/aftersales/%d/approve", num(req.body["id"])), owner, nil); r.status != 200 {
					t.Errorf("approve: %d %s", r.status, r.raw)
				}
			}()
			var shipped reply
			go func() {
				defer wg.Done()
				// Staff press ship until the request no longer blocks it.
				for range 2000 {
					shipped = s.ship(id, map[string]string{"carrier": "SF", "tracking_no": fmt.Sprintf("SF10000000%02d", n)})
					if shipped.status != 409 {
						return
					}
				}
			}()
			wg.Wait()
			if shipped.status != 200 {
				t.Fatalf("order %d: ship = %d %s", id, shipped.status, shipped.raw)
			}
			if c := s.count("SELECT COUNT(*) FROM parcel_items WHERE order_item_id = ?", items[0]); c != 0 {
				t.Fatalf("order %d: the refunded line %d ships in a parcel", id, items[0])
			}
			if c := s.count("SELECT COUNT(*) FROM parcel_items WHERE order_item_id = ?", items[1]); c != 1 {
				t.Fatalf("order %d: the kept line %d ships in %d parcels", id, items[1], c)
			}
		}
	})
}
