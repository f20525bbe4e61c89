package sandbox_test

import (
	"context"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/silenceper/wechat/v2/util"

	"github.com/minimall/minimall/internal/sandbox"
)

// The settlement push is signed and encrypted as WeChat does it: silenceper's
// own implementation of the algorithm decrypts it for our AppID, and its
// util.Signature (SHA1 of the sorted parts) gives both signatures.
func TestConfirmReceiptPushIsWeChatsSafeMode(t *testing.T) {
	sb := newSandbox(t, sandbox.Options{})
	st := sb.Settings()
	var got struct {
		query url.Values
		body  map[string]string
	}
	merchant := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.query = r.URL.Query()
		b, _ := io.ReadAll(r.Body)
		_ = json.Unmarshal(b, &got.body)
		_, _ = io.WriteString(w, "success")
	}))
	defer merchant.Close()
	sb.SetWeChatPushURL(merchant.URL+"/push", false)
	msg := []byte(`{"MsgType":"event","Event":"trade_manage_order_settlement","transaction_id":"4200"}`)
	res, err := sb.PushWeChat(context.Background(), msg)
	if err != nil || res.Status != 200 || res.Reply != "success" {
		t.Fatalf("push = %+v, %v", res, err)
	}
	_, plain, err := util.DecryptMsg(st.WeChatAppID, got.body["Encrypt"], st.WeChatPushAESKey)
	if err != nil || string(plain) != string(msg) {
		t.Fatalf("silenceper decrypts %q, %v", plain, err)
	}
	if _, _, err := util.DecryptMsg("wxanother", got.body["Encrypt"], st.WeChatPushAESKey); err == nil {
		t.Error("the message decrypts for another AppID")
	}
	q := got.query
	if q.Get("encrypt_type") != "aes" ||
		q.Get("signature") != util.Signature(st.WeChatPushToken, q.Get("timestamp"), q.Get("nonce")) ||
		q.Get("msg_signature") != util.Signature(st.WeChatPushToken, q.Get("timestamp"), q.Get("nonce"), got.body["Encrypt"]) {
		t.Errorf("signatures do not verify: %v", q)
	}
}

// kuaidi100's query checks its sign; subscribing twice answers 501.
func TestCourierSignsAndSubscriptions(t *testing.T) {
	sb := newSandbox(t, sandbox.Options{})
	srv := httptest.NewServer(sb)
	defer srv.Close()
	st := sb.Settings()
	post := func(path string, form url.Values) map[string]any {
		t.Helper()
		res, err := http.PostForm(srv.URL+path, form)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(res.Body).Decode(&out)
		return out
	}
	sub := `{"company":"yunda","number":"YD1","key":"` + st.CourierKey + `","parameters":{"callbackurl":"http://127.0.0.1:1/cb","salt":"s","resultv2":"4"}}`
	for i, want := range []string{"200", "501"} {
		if got := post("/poll", url.Values{"schema": {"json"}, "param": {sub}}); got["returnCode"] != want {
			t.Errorf("subscription %d = %v, want returnCode %s", i+1, got, want)
		}
	}
	badKey := strings.Replace(sub, st.CourierKey, "wrong", 1)
	if got := post("/poll", url.Values{"schema": {"json"}, "param": {badKey}}); got["returnCode"] != "600" {
		t.Errorf("subscription with a wrong key = %v", got)
	}
	// The callback does not listen: the push fails, but the parcel moved.
	_, _ = sb.AdvanceParcel("YD1")
	param := `{"com":"yunda","num":"YD1","resultv2":"4"}`
	sum := md5.Sum([]byte(param + st.CourierKey + st.CourierCustomer))
	sign := hex.EncodeToString(sum[:])
	got := post("/poll/query.do", url.Values{"customer": {st.CourierCustomer}, "param": {param}, "sign": {strings.ToUpper(sign)}})
	if got["status"] != "200" || got["state"] != "1" {
		t.Errorf("query = %v", got)
	}
	got = post("/poll/query.do", url.Values{"customer": {st.CourierCustomer}, "param": {param}, "sign": {strings.ToUpper(sign[1:] + "0")}})
	if got["returnCode"] != "408" {
		t.Errorf("query with a bad sign = %v", got)
	}
}
