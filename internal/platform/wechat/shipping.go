package wechat

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"regexp"

	"github.com/silenceper/wechat/v2/credential"
	mporder "github.com/silenceper/wechat/v2/miniprogram/order"
	"github.com/silenceper/wechat/v2/util"
)

// The order shipping-info management API (发货信息管理) of silenceper's
// miniprogram/order package. Its Shipping methods take no context, so they
// cannot carry the per-client API base (see InstallTransport) nor a
// deadline; the calls below do what they do (the SDK's request types, its
// access-token handle, its HTTP helper and error decoding) with the context.
const (
	uploadShippingInfoPath   = "https://api.weixin.qq.com/wxa/sec/order/upload_shipping_info?access_token="
	notifyConfirmReceivePath = "https://api.weixin.qq.com/wxa/sec/order/notify_confirm_receive?access_token="
)

// Access-token errcodes: the cached token was revoked or expired early.
const (
	ErrCodeTokenInvalid = 40001
	ErrCodeTokenExpired = 42001
	ErrCodeTokenBad     = 40014
)

// APIError is WeChat's errcode and errmsg for a server API call.
type APIError struct {
	API     string
	ErrCode int64
	ErrMsg  string
}

func (e *APIError) Error() string {
	return fmt.Sprintf("wechat %s: errcode=%d errmsg=%s", e.API, e.ErrCode, e.ErrMsg)
}

// ShippingInfo is the body of upload_shipping_info (silenceper's type).
type ShippingInfo = mporder.UploadShippingInfoRequest

// The parts of ShippingInfo.
type (
	ShippingOrderKey = mporder.ShippingOrderKey
	ShippingPayer    = mporder.ShippingPayer
	ShippingItem     = mporder.ShippingInfo
)

// ConfirmReceiveNotice is the body of notify_confirm_receive.
type ConfirmReceiveNotice = mporder.NotifyConfirmReceiveRequest

// UploadShippingInfo uploads an order's shipping information. A WeChat
// refusal is an *APIError; anything else (WeChat unreachable) a plain error
// whose text carries no token or secret.
func (c *Client) UploadShippingInfo(ctx context.Context, in *ShippingInfo) error {
	return c.post(ctx, "upload_shipping_info", uploadShippingInfoPath, in)
}

// NotifyConfirmReceive asks WeChat to remind the buyer to confirm receipt.
func (c *Client) NotifyConfirmReceive(ctx context.Context, in *ConfirmReceiveNotice) error {
	return c.post(ctx, "notify_confirm_receive", notifyConfirmReceivePath, in)
}

// post calls a server API with the cached access token; when WeChat answers
// that the token is invalid or expired, it drops the cached token and tries
// once more with a fresh one.
func (c *Client) post(ctx context.Context, api, uri string, body any) error {
	for attempt := 0; ; attempt++ {
		tok, err := c.mp.GetContext().GetAccessTokenContext(c.ctx(ctx))
		if err != nil {
			return fmt.Errorf("wechat %s: access token: %w", api, scrub(err))
		}
		res, err := util.PostJSONContext(c.ctx(ctx), uri+url.QueryEscape(tok), body)
		if err != nil {
			return fmt.Errorf("wechat %s: %w", api, scrub(err))
		}
		err = util.DecodeWithCommonError(res, api)
		var ce *util.CommonError
		if errors.As(err, &ce) {
			if attempt == 0 && (ce.ErrCode == ErrCodeTokenInvalid || ce.ErrCode == ErrCodeTokenExpired || ce.ErrCode == ErrCodeTokenBad) {
				c.dropToken(ctx)
				continue
			}
			return &APIError{API: api, ErrCode: ce.ErrCode, ErrMsg: ce.ErrMsg}
		}
		if err != nil {
			return fmt.Errorf("wechat %s: unreadable answer: %w", api, err)
		}
		return nil
	}
}

// dropToken removes the cached access token, so the next call fetches one.
// The key is the one silenceper's default access-token handle uses.
func (c *Client) dropToken(ctx context.Context) {
	key := fmt.Sprintf("%s_access_token_%s", credential.CacheKeyMiniProgramPrefix, c.appID)
	_ = c.cache.Delete(key)
}

// secretParam matches query parameters that must never reach a log line.
var secretParam = regexp.MustCompile(`(?i)(access_token|secret|appsecret|js_code)=[^&\s"']*`)

// scrub removes tokens and secrets from an error's text (silenceper and
// net/http put the request URL in their errors).
func scrub(err error) error {
	if err == nil {
		return nil
	}
	return errors.New(secretParam.ReplaceAllString(err.Error(), "$1=***"))
}
