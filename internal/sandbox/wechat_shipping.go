package sandbox

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// WeChat's mini-program order shipping-info management (发货信息管理) and
// message push, as the platform does them:
//
//   - POST /wxa/sec/order/upload_shipping_info and
//     /wxa/sec/order/notify_confirm_receive check the access_token (40001
//     when it is not one /cgi-bin/token issued, or was revoked), the body's
//     shape and the trade it names (a paid WeChat Pay trade of this
//     sandbox), and answer {"errcode":0,"errmsg":"ok"}.
//   - Controls: POST /_sandbox/wechat/shipping/fail {"errcode","times"}
//     makes the next uploads fail with errcode; POST
//     /_sandbox/wechat/expire-tokens revokes every access token issued;
//     GET /_sandbox/wechat/shipping?transaction_id= shows what was uploaded.
//   - POST /_sandbox/wechat/confirm-receipt {"transaction_id","method"?}
//     pushes trade_manage_order_settlement (the buyer confirmed receipt in
//     WeChat) through the message push (wechat_push.go). The delivery
//     happens during the call, which answers the push's HTTP status and
//     reply.

// ShippingUpload is one accepted upload_shipping_info body.
type ShippingUpload struct {
	OrderKey struct {
		OrderNumberType int    `json:"order_number_type"`
		TransactionID   string `json:"transaction_id"`
		Mchid           string `json:"mchid"`
		OutTradeNo      string `json:"out_trade_no"`
	} `json:"order_key"`
	LogisticsType  int  `json:"logistics_type"`
	DeliveryMode   int  `json:"delivery_mode"`
	IsAllDelivered bool `json:"is_all_delivered"`
	ShippingList   []struct {
		TrackingNo     string `json:"tracking_no"`
		ExpressCompany string `json:"express_company"`
		ItemDesc       string `json:"item_desc"`
		Contact        struct {
			ConsignorContact string `json:"consignor_contact"`
			ReceiverContact  string `json:"receiver_contact"`
		} `json:"contact"`
	} `json:"shipping_list"`
	UploadTime string `json:"upload_time"`
	Payer      struct {
		Openid string `json:"openid"`
	} `json:"payer"`
}

// wechatShipping is the sandbox's shipping-info management state.
type wechatShipping struct {
	mu       sync.Mutex
	uploads  map[string][]ShippingUpload // by transaction_id
	calls    int                         // upload_shipping_info calls, failed ones included
	fail     []int64                     // errcodes of the next uploads
	confirms map[string]int              // notify_confirm_receive calls by transaction_id
}

// registerWeChatShipping installs the shipping API and its controls.
func (s *Server) registerWeChatShipping() {
	s.wechatShipping = &wechatShipping{uploads: map[string][]ShippingUpload{}, confirms: map[string]int{}}
	s.mux.HandleFunc("POST /wxa/sec/order/upload_shipping_info", s.wechatUploadShipping)
	s.mux.HandleFunc("POST /wxa/sec/order/notify_confirm_receive", s.wechatNotifyConfirmReceive)
	s.mux.HandleFunc("POST /_sandbox/wechat/shipping/fail", control(
		func(q shippingFailControl) bool { return q.ErrCode != 0 && q.Times >= 0 && q.Times <= 1000 },
		usage(`body must be {"errcode":-1,"times":1}`),
		func(_ *http.Request, q shippingFailControl) (any, error) {
			q.Times = max(q.Times, 1)
			s.FailWeChatShipping(q.ErrCode, q.Times)
			return q, nil
		}, failWith(http.StatusBadRequest)))
	s.mux.HandleFunc("POST /_sandbox/wechat/expire-tokens", s.wechatControlExpireTokens)
	s.mux.HandleFunc("GET /_sandbox/wechat/shipping", s.wechatControlShipping)
	s.mux.HandleFunc("POST /_sandbox/wechat/confirm-receipt", control(
		func(q confirmReceiptControl) bool { return q.TransactionID != "" },
		usage(`body must be {"transaction_id":"..."}`),
		func(r *http.Request, q confirmReceiptControl) (any, error) {
			return s.ConfirmReceipt(r.Context(), q.TransactionID, q.Method)
		}, failWith(http.StatusBadRequest)))
}

// FailWeChatShipping makes the next times uploads answer errcode.
func (s *Server) FailWeChatShipping(errcode int64, times int) {
	s.wechatShipping.mu.Lock()
	defer s.wechatShipping.mu.Unlock()
	for range times {
		s.wechatShipping.fail = append(s.wechatShipping.fail, errcode)
	}
}

// ExpireWeChatTokens revokes every access token issued so far.
func (s *Server) ExpireWeChatTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.wechatTokens)
}

// WeChatShippingUploads returns the accepted uploads of a trade and the
// number of upload calls of the whole sandbox (failed ones included).
func (s *Server) WeChatShippingUploads(transactionID string) ([]ShippingUpload, int) {
	s.wechatShipping.mu.Lock()
	defer s.wechatShipping.mu.Unlock()
	return append([]ShippingUpload(nil), s.wechatShipping.uploads[transactionID]...), s.wechatShipping.calls
}

// WeChatConfirmNotices returns how many notify_confirm_receive calls named a
// trade.
func (s *Server) WeChatConfirmNotices(transactionID string) int {
	s.wechatShipping.mu.Lock()
	defer s.wechatShipping.mu.Unlock()
	return s.wechatShipping.confirms[transactionID]
}

// wechatPaidTrade finds a trade by transaction id, or by mchid and out_trade_no.
func (s *Server) wechatPaidTrade(transactionID, mchID, outTradeNo string) (WeChatPayTrade, bool) {
	w := s.wechatPayTrades
	w.mu.Lock()
	if transactionID != "" {
		outTradeNo = w.byTxn[transactionID]
	} else if mchID != w.mchID {
		outTradeNo = ""
	}
	w.mu.Unlock()
	if outTradeNo == "" {
		return WeChatPayTrade{}, false
	}
	t, ok := s.WeChatPayTradeOf(outTradeNo)
	return t, ok && t.TradeState == "SUCCESS"
}

// wechatServerToken checks the access_token of a server API call.
func (s *Server) wechatServerToken(w http.ResponseWriter, r *http.Request) bool {
	if !s.WeChatAccessTokenValid(r.URL.Query().Get("access_token")) {
		writeJSON(w, http.StatusOK, wechatError{40001, "invalid credential, access_token is invalid or not latest"})
		return false
	}
	return true
}

func (s *Server) wechatUploadShipping(w http.ResponseWriter, r *http.Request) {
	if !s.wechatServerToken(w, r) {
		return
	}
	sh := s.wechatShipping
	sh.mu.Lock()
	sh.calls++
	var injected int64
	if len(sh.fail) > 0 {
		injected, sh.fail = sh.fail[0], sh.fail[1:]
	}
	sh.mu.Unlock()
	if injected != 0 {
		writeJSON(w, http.StatusOK, wechatError{int(injected), "sandbox: injected failure"})
		return
	}
	var in ShippingUpload
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&in); err != nil {
		writeJSON(w, http.StatusOK, wechatError{47001, "data format error"})
		return
	}
	if msg := checkUpload(&in); msg != "" {
		writeJSON(w, http.StatusOK, wechatError{47001, "data format error: " + msg})
		return
	}
	k := in.OrderKey
	txn := ""
	if k.OrderNumberType == 2 {
		txn = k.TransactionID
	}
	t, ok := s.wechatPaidTrade(txn, k.Mchid, k.OutTradeNo)
	if !ok {
		writeJSON(w, http.StatusOK, wechatError{10060001, "支付单不存在"})
		return
	}
	if in.Payer.Openid != t.OpenID {
		writeJSON(w, http.StatusOK, wechatError{10060012, "payer openid does not match the trade"})
		return
	}
	sh.mu.Lock()
	sh.uploads[t.TransactionID] = append(sh.uploads[t.TransactionID], in)
	sh.mu.Unlock()
	writeJSON(w, http.StatusOK, wechatError{0, "ok"})
}

// checkUpload checks the body as WeChat documents it.
func checkUpload(in *ShippingUpload) string {
	k := in.OrderKey
	switch {
	case k.OrderNumberType == 2 && k.TransactionID == "":
		return "order_key.transaction_id is required"
	case k.OrderNumberType == 1 && (k.Mchid == "" || k.OutTradeNo == ""):
		return "order_key.mchid and out_trade_no are required"
	case k.OrderNumberType != 1 && k.OrderNumberType != 2:
		return "order_key.order_number_type must be 1 or 2"
	case in.LogisticsType < 1 || in.LogisticsType > 4:
		return "logistics_type must be 1 to 4"
	case in.DeliveryMode != 1 && in.DeliveryMode != 2:
		return "delivery_mode must be 1 or 2"
	case len(in.ShippingList) == 0 || len(in.ShippingList) > 10:
		return "shipping_list must hold 1 to 10 waybills"
	case in.DeliveryMode == 1 && len(in.ShippingList) != 1:
		return "unified delivery takes one waybill"
	case in.Payer.Openid == "":
		return "payer.openid is required"
	}
	if _, err := time.Parse(time.RFC3339, in.UploadTime); err != nil {
		return "upload_time must be RFC 3339"
	}
	for _, sl := range in.ShippingList {
		if in.LogisticsType == 1 && (sl.TrackingNo == "" || sl.ExpressCompany == "") {
			return "tracking_no and express_company are required for express delivery"
		}
		if sl.ItemDesc == "" || utf8.RuneCountInString(sl.ItemDesc) > 120 {
			return "item_desc must be 1 to 120 characters"
		}
		if sl.ExpressCompany == "SF" {
			c := sl.Contact.ReceiverContact + sl.Contact.ConsignorContact
			if c == "" || !strings.Contains(c, "*") {
				return "SF needs a masked receiver or consignor contact"
			}
		}
	}
	return ""
}

func (s *Server) wechatNotifyConfirmReceive(w http.ResponseWriter, r *http.Request) {
	if !s.wechatServerToken(w, r) {
		return
	}
	var in struct {
		TransactionID   string `json:"transaction_id"`
		MerchantID      string `json:"merchant_id"`
		MerchantTradeNo string `json:"merchant_trade_no"`
		ReceivedTime    int64  `json:"received_time"`
	}
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<16)).Decode(&in); err != nil || in.ReceivedTime <= 0 {
		writeJSON(w, http.StatusOK, wechatError{47001, "data format error"})
		return
	}
	t, ok := s.wechatPaidTrade(in.TransactionID, in.MerchantID, in.MerchantTradeNo)
	if !ok {
		writeJSON(w, http.StatusOK, wechatError{10060001, "支付单不存在"})
		return
	}
	s.wechatShipping.mu.Lock()
	s.wechatShipping.confirms[t.TransactionID]++
	s.wechatShipping.mu.Unlock()
	writeJSON(w, http.StatusOK, wechatError{0, "ok"})
}

func (s *Server) wechatControlExpireTokens(w http.ResponseWriter, _ *http.Request) {
	s.ExpireWeChatTokens()
	writeJSON(w, http.StatusOK, map[string]string{"status": "revoked"})
}

func (s *Server) wechatControlShipping(w http.ResponseWriter, r *http.Request) {
	txn := r.URL.Query().Get("transaction_id")
	uploads, calls := s.WeChatShippingUploads(txn)
	writeJSON(w, http.StatusOK, map[string]any{"uploads": uploads, "upload_calls": calls,
		"confirm_notices": s.WeChatConfirmNotices(txn)})
}

// ConfirmReceipt pushes trade_manage_order_settlement for a paid trade: the
// buyer confirmed receipt in WeChat (method 2) or WeChat did automatically
// (method 1).
func (s *Server) ConfirmReceipt(ctx context.Context, transactionID string, method int) (PushResult, error) {
	t, ok := s.wechatPaidTrade(transactionID, "", "")
	if !ok {
		return PushResult{}, fmt.Errorf("sandbox: no paid trade %q", transactionID)
	}
	if method == 0 {
		method = 2
	}
	now := time.Now().Unix()
	ev := map[string]any{
		"ToUserName": "gh_sandbox", "FromUserName": "o_wechat_system", "CreateTime": now, "MsgType": "event",
		"Event": "trade_manage_order_settlement", "transaction_id": t.TransactionID,
		"merchant_id": s.settings.WeChatPayMchID, "merchant_trade_no": t.OutTradeNo,
		"confirm_receive_method": method, "confirm_receive_time": now, "settlement_time": now,
	}
	return s.wechatPush.now(ctx, "settlement:"+t.TransactionID, "trade_manage_order_settlement",
		func() ([]byte, error) { return json.Marshal(ev) })
}

// shippingFailControl is the body of POST /_sandbox/wechat/shipping/fail.
type shippingFailControl struct {
	ErrCode int64 `json:"errcode"`
	Times   int   `json:"times"`
}

// confirmReceiptControl is the body of POST /_sandbox/wechat/confirm-receipt.
type confirmReceiptControl struct {
	TransactionID string `json:"transaction_id"`
	Method        int    `json:"method"`
}
