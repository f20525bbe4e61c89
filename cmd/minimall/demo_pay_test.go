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

// TestServeDemoPaysAnOrder follows the walkthrough of docs/payments.md: a
// customer logs in through the demo's sandbox, orders a demo product, asks
// to pay with WeChat Pay, pays at the sandbox, and the sandbox's notification
// makes the order paid; then another customer does the same with Alipay.
func TestServeDemoPaysAnOrder(t *testing.T) {
	// WeChat Pay must reach the server back, so it listens on a known port
	// (the notify URL is built from MINIMALL_HTTP_ADDR).
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
	sandboxURL := m[1]

	call := func(method, url, token string, body any, want int, out any) {
		t.Helper()
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, url, rd)
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
	call(http.MethodPost, s.URL+"/api/v1/auth/wechat/login", "", map[string]string{"code": "test-alice"}, 200, &login)
	tok := login.AccessToken
	var products struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	call(http.MethodGet, s.URL+"/api/v1/products", "", nil, 200, &products)
	if len(products.Items) == 0 {
		t.Fatal("no demo products")
	}
	var product struct {
		SKUs []struct {
			ID int64 `json:"id"`
		} `json:"skus"`
	}
	call(http.MethodGet, fmt.Sprintf("%s/api/v1/products/%d", s.URL, products.Items[0].ID), "", nil, 200, &product)
	var address struct {
		ID int64 `json:"id"`
	}
	call(http.MethodPost, s.URL+"/api/v1/addresses", tok, map[string]any{"name": "张三", "phone": "13800138000",
		"province": "浙江省", "city": "杭州市", "district": "西湖区", "detail": "文三路 1 号", "is_default": true}, 201, &address)
	var order struct {
		ID       int64  `json:"id"`
		Status   string `json:"status"`
		TotalFen int64  `json:"total_fen"`
		PaidFen  int64  `json:"paid_fen"`
	}
	call(http.MethodPost, s.URL+"/api/v1/orders", tok, map[string]any{"address_id": address.ID,
		"items": []map[string]int64{{"sku_id": product.SKUs[0].ID, "quantity": 1}}}, 201, &order)
	var pay struct {
		RequestPayment struct {
			Package string `json:"package"`
		} `json:"request_payment"`
	}
	call(http.MethodPost, fmt.Sprintf("%s/api/v1/orders/%d/pay", s.URL, order.ID), tok, map[string]string{"channel": "wechat"}, 200, &pay)
	prepay := strings.TrimPrefix(pay.RequestPayment.Package, "prepay_id=")
	call(http.MethodPost, sandboxURL+"/_sandbox/wechatpay/pay", "", map[string]string{"prepay_id": prepay}, 200, nil)

	// The notification is delivered asynchronously: poll until it lands.
	deadline := time.Now().Add(20 * time.Second)
	for {
		call(http.MethodGet, fmt.Sprintf("%s/api/v1/orders/%d", s.URL, order.ID), tok, nil, 200, &order)
		if order.Status == "paid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("order still %s\nstderr:\n%s", order.Status, s.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if order.PaidFen != order.TotalFen {
		t.Fatalf("paid %d of %d", order.PaidFen, order.TotalFen)
	}

	// The same with Alipay: a customer who logged in with Alipay pays with
	// the trade_no of alipay.trade.create.
	call(http.MethodPost, s.URL+"/api/v1/auth/alipay/login", "", map[string]string{"code": "test-bob"}, 200, &login)
	tok = login.AccessToken
	call(http.MethodPost, s.URL+"/api/v1/addresses", tok, map[string]any{"name": "李四", "phone": "13900139000",
		"province": "上海市", "city": "上海市", "district": "浦东新区", "detail": "世纪大道 1 号", "is_default": true}, 201, &address)
	call(http.MethodPost, s.URL+"/api/v1/orders", tok, map[string]any{"address_id": address.ID,
		"items": []map[string]int64{{"sku_id": product.SKUs[0].ID, "quantity": 1}}}, 201, &order)
	var alipayPay struct {
		TradeNo string `json:"trade_no"`
	}
	call(http.MethodPost, fmt.Sprintf("%s/api/v1/orders/%d/pay", s.URL, order.ID), tok, map[string]string{"channel": "alipay"}, 200, &alipayPay)
	if alipayPay.TradeNo == "" {
		t.Fatal("no trade_no for Alipay")
	}
	call(http.MethodPost, sandboxURL+"/_sandbox/alipay/pay", "", map[string]string{"trade_no": alipayPay.TradeNo}, 200, nil)
	deadline = time.Now().Add(20 * time.Second)
	for {
		call(http.MethodGet, fmt.Sprintf("%s/api/v1/orders/%d", s.URL, order.ID), tok, nil, 200, &order)
		if order.Status == "paid" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Alipay order still %s\nstderr:\n%s", order.Status, s.Stderr.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if order.PaidFen != order.TotalFen {
		t.Fatalf("Alipay paid %d of %d", order.PaidFen, order.TotalFen)
	}
}
