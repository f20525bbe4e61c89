package logistics

import (
	"context"
	"errors"

	"github.com/minimall/minimall/internal/platform/courier"
	"github.com/minimall/minimall/internal/platform/wechat"
)

// WeChat is the mini-program server API the module calls
// (*wechat.Client).
type WeChat interface {
	UploadShippingInfo(ctx context.Context, in *wechat.ShippingInfo) error
	NotifyConfirmReceive(ctx context.Context, in *wechat.ConfirmReceiveNotice) error
}

// Courier is the tracking API (*courier.Client).
type Courier interface {
	Subscribe(ctx context.Context, s courier.Subscription) error
	Query(ctx context.Context, company, number, phone string) (courier.Track, error)
	VerifyPush(param, sign string) bool
}

// errNotConfigured answers platform calls of a platform minimall has no
// credentials for; the outbox records it as a permanent failure.
var errNotConfigured = errors.New("not configured")

// NoWeChat is the WeChat of a shop without mini-program credentials.
type NoWeChat struct{}

// UploadShippingInfo fails: nothing can be uploaded.
func (NoWeChat) UploadShippingInfo(context.Context, *wechat.ShippingInfo) error {
	return &wechat.APIError{API: "upload_shipping_info", ErrCode: -2, ErrMsg: "WeChat is not configured"}
}

// NotifyConfirmReceive fails likewise.
func (NoWeChat) NotifyConfirmReceive(context.Context, *wechat.ConfirmReceiveNotice) error {
	return &wechat.APIError{API: "notify_confirm_receive", ErrCode: -2, ErrMsg: "WeChat is not configured"}
}

// NoCourier is the Courier of a shop without tracking API credentials:
// parcels are recorded but not followed, and every push is refused.
type NoCourier struct{}

// Subscribe fails: there is no courier API.
func (NoCourier) Subscribe(context.Context, courier.Subscription) error {
	return &courier.Error{Op: "subscribe", ReturnCode: "-2", Message: "the courier API is not configured"}
}

// Query fails likewise.
func (NoCourier) Query(context.Context, string, string, string) (courier.Track, error) {
	return courier.Track{}, errNotConfigured
}

// VerifyPush refuses every push.
func (NoCourier) VerifyPush(string, string) bool { return false }
