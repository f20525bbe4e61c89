package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestServeDemoShipsTracksAndCompletes follows the walkthrough of
// docs/logistics.md in demo mode: a WeChat customer pays an order of two
// products, staff ship it in two parcels, both parcels are advanced to
// signed at the sandbox courier, the order records delivered_at and WeChat
// is asked once to remind the buyer, and WeChat's settlement event (the
// buyer confirmed receipt in WeChat) completes the order; a second one
// changes nothing.
func TestServeDemoShipsTracksAndCompletes(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	s := startServer(t, map[string]string{"MINIMALL_HTTP_ADDR": addr}, "serve", "--demo")
	m := sandboxListening.FindStringSubmatch(s.Stdout.String())
	if m == nil {
		t.Fatalf("no sandbox address in:\n%s", s.Stdout.String())
	}
	sb := m[1]
	call := func(method, url, token string, body any, want int, out any) {
		t.Helper()
		var b []byte
		if body != nil {
			b, _ = json.Marshal(body)
		}
		req, _ := http.NewRequest(method, url, bytes.NewReader(b))
		req.Header.Set("Content-Type", "application/json")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var raw json.RawMessage
		_ = json.NewDecoder(resp.Body).Decode(&raw)
		if resp.StatusCode != want {
			t.Fatalf("%s %s: %d %s, want %d\nstderr:\n%s", method, url, resp.StatusCode, raw, want, s.Stderr.String())
		}
		if out != nil {
			if err := json.Unmarshal(raw, out); err != nil {
				t.Fatal(err)
			}
		}
	}

	var login struct {
		AccessToken string `json:"access_token"`
	}
	call("POST", s.URL+"/api/v1/auth/wechat/login", "", map[string]string{"code": "test-lin"}, 200, &login)
	tok := login.AccessToken
	var products struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	call("GET", s.URL+"/api/v1/products", "", nil, 200, &products)
	var skus []int64
	for _, p := range products.Items[:2] {
		var product struct {
			SKUs []struct {
				ID int64 `json:"id"`
			} `json:"skus"`
		}
		call("GET", fmt.Sprintf("%s/api/v1/products/%d", s.URL, p.ID), "", nil, 200, &product)
		skus = append(skus, product.SKUs[0].ID)
	}
	var address struct {
		ID int64 `json:"id"`
	}
	call("POST", s.URL+"/api/v1/addresses", tok, map[string]any{"name": "林一", "phone": "13700137000",
		"province": "广东省", "city": "深圳市", "district": "南山区", "detail": "科技园 1 号", "is_default": true}, 201, &address)
	var order struct {
		ID     int64  `json:"id"`
		Status string `json:"status"`
		Items  []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	call("POST", s.URL+"/api/v1/orders", tok, map[string]any{"address_id": address.ID, "items": []map[string]int64{
		{"sku_id": skus[0], "quantity": 1}, {"sku_id": skus[1], "quantity": 1}}}, 201, &order)
	var pay struct {
		RequestPayment struct {
			Package string `json:"package"`
		} `json:"request_payment"`
	}
	call("POST", fmt.Sprintf("%s/api/v1/orders/%d/pay", s.URL, order.ID), tok, map[string]string{"channel": "wechat"}, 200, &pay)
	call("POST", sb+"/_sandbox/wechatpay/pay", "", map[string]string{"prepay_id": strings.TrimPrefix(pay.RequestPayment.Package, "prepay_id=")}, 200, nil)
	deadline := time.Now().Add(20 * time.Second)
	for order.Status != "paid" {
		if time.Now().After(deadline) {
			t.Fatalf("order still %s", order.Status)
		}
		time.Sleep(20 * time.Millisecond)
		call("GET", fmt.Sprintf("%s/api/v1/orders/%d", s.URL, order.ID), tok, nil, 200, &order)
	}

	var staff struct {
		AccessToken string `json:"access_token"`
	}
	call("POST", s.URL+"/api/v1/admin/auth/login", "", map[string]string{"username": "owner", "password": "demo-owner-pass"}, 200, &staff)
	type detail struct {
		Status      string  `json:"status"`
		DeliveredAt *string `json:"delivered_at"`
		Parcels     []struct {
			TrackingNo string `json:"tracking_no"`
		} `json:"parcels"`
		ShippingUpload struct {
			State string `json:"state"`
		} `json:"shipping_upload"`
		PaymentAttempts []struct {
			ProviderTxnID string `json:"provider_txn_id"`
		} `json:"payment_attempts"`
		Events []struct {
			To        string `json:"to"`
			ActorType string `json:"actor_type"`
		} `json:"events"`
	}
	var d detail
	call("POST", fmt.Sprintf("%s/api/v1/admin/orders/%d/ship", s.URL, order.ID), staff.AccessToken, map[string]any{
		"parcels": []map[string]any{
			{"carrier": "SF", "tracking_no": "SF7000000001", "item_ids": []int64{order.Items[0].ID}},
			{"carrier": "ZTO", "tracking_no": "ZT7000000002", "item_ids": []int64{order.Items[1].ID}},
		}}, 200, &d)
	if d.Status != "shipped" || len(d.Parcels) != 2 || d.ShippingUpload.State != "uploaded" {
		t.Fatalf("shipped order = %+v", d)
	}
	for _, no := range []string{"SF7000000001", "ZT7000000002"} {
		for range 4 {
			call("POST", sb+"/_sandbox/courier/advance", "", map[string]string{"tracking_no": no}, 200, nil)
		}
	}
	call("GET", fmt.Sprintf("%s/api/v1/admin/orders/%d", s.URL, order.ID), staff.AccessToken, nil, 200, &d)
	if d.DeliveredAt == nil || d.Status != "shipped" {
		t.Fatalf("after both parcels signed: %+v", d)
	}
	txn := d.PaymentAttempts[0].ProviderTxnID
	var shown struct {
		Uploads        []any `json:"uploads"`
		ConfirmNotices int   `json:"confirm_notices"`
	}
	call("GET", sb+"/_sandbox/wechat/shipping?transaction_id="+txn, "", nil, 200, &shown)
	if len(shown.Uploads) != 1 || shown.ConfirmNotices != 1 {
		t.Fatalf("WeChat saw %d uploads and %d confirm-receipt reminders, want 1 and 1", len(shown.Uploads), shown.ConfirmNotices)
	}
	var tracking struct {
		Parcels []struct {
			State  string `json:"state"`
			Events []any  `json:"events"`
		} `json:"parcels"`
	}
	call("GET", fmt.Sprintf("%s/api/v1/orders/%d/tracking", s.URL, order.ID), tok, nil, 200, &tracking)
	if len(tracking.Parcels) != 2 || tracking.Parcels[1].State != "signed" || len(tracking.Parcels[1].Events) != 4 {
		t.Fatalf("tracking = %+v", tracking)
	}

	var pushed struct {
		Status int    `json:"status"`
		Reply  string `json:"reply"`
	}
	for range 2 {
		call("POST", sb+"/_sandbox/wechat/confirm-receipt", "", map[string]string{"transaction_id": txn}, 200, &pushed)
		if pushed.Status != 200 || pushed.Reply != "success" {
			t.Fatalf("settlement push = %+v", pushed)
		}
	}
	call("GET", fmt.Sprintf("%s/api/v1/admin/orders/%d", s.URL, order.ID), staff.AccessToken, nil, 200, &d)
	completions := 0
	for _, e := range d.Events {
		if e.To == "completed" {
			completions++
			if e.ActorType != "platform" {
				t.Errorf("completed by %s, want platform", e.ActorType)
			}
		}
	}
	if d.Status != "completed" || completions != 1 {
		t.Fatalf("after two settlement events: %s with %d completions", d.Status, completions)
	}
	call("GET", sb+"/_sandbox/wechat/shipping?transaction_id="+txn, "", nil, 200, &shown)
	if shown.ConfirmNotices != 1 {
		t.Errorf("confirm-receipt reminders = %d, want 1", shown.ConfirmNotices)
	}
}
