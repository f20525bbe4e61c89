package payment

import (
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// Handlers serve the payment routes: the customer's pay action and the
// platforms' notifications.
type Handlers struct {
	svc *Service
}

// NewHandlers returns the handlers of svc.
func NewHandlers(svc *Service) (*Handlers, error) {
	if svc == nil {
		return nil, errors.New("payment: nil service")
	}
	return &Handlers{svc: svc}, nil
}

type payRequest struct {
	Channel string `json:"channel"`
}

// Pay serves POST /api/v1/orders/{id}/pay {"channel":"wechat"|"alipay"}:
// {"channel","out_trade_no"} and the channel's own fields.
func (h *Handlers) Pay(c *gin.Context) {
	id, err := httpx.ParamID(c, "id")
	if err != nil {
		httpx.Error(c, err)
		return
	}
	var req payRequest
	if err := httpx.DecodeJSON(c, &req); err != nil {
		httpx.Error(c, err)
		return
	}
	res, err := h.svc.Pay(c.Request.Context(), auth.CustomerID(c), id, Channel(req.Channel))
	if err != nil {
		httpx.Error(c, err)
		return
	}
	out := make(map[string]any, len(res.Fields)+2)
	for k, v := range res.Fields {
		out[k] = v
	}
	out["channel"], out["out_trade_no"] = res.Channel, res.OutTradeNo
	c.JSON(http.StatusOK, out)
}

// notify serves a channel's notification route: it reads the body (at most
// MINIMALL_HTTP_MAX_BODY), hands it to the service and answers in the
// platform's own format through reply, which maps the service's error kind.
// Malformed input is never a 5xx; a panic is a 500.
func (h *Handlers) notify(c *gin.Context, ch Channel, reply func(c *gin.Context, err error)) {
	defer func() {
		if p := recover(); p != nil {
			httpx.Logger(c).ErrorContext(c.Request.Context(), "payment notification panicked", "channel", ch, "panic", fmt.Sprint(p))
			reply(c, apperr.Internal(fmt.Errorf("panic: %v", p)))
		}
	}()
	limit := h.svc.MaxNotifyBody()
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &mbe) || int64(len(body)) > limit:
		err = apperr.New(apperr.CodePayloadTooLarge, "notification refused: payload_too_large")
	case err != nil:
		err = apperr.Invalid("notification refused: malformed").WithCause(err)
	default:
		err = h.svc.HandleNotification(c.Request.Context(), ch, Delivery{Header: c.Request.Header, Body: body})
	}
	if apperr.CodeOf(err) == apperr.CodeInternal {
		httpx.Logger(c).ErrorContext(c.Request.Context(), "payment notification failed", "channel", ch, "err", err)
	}
	reply(c, err)
}

// notifyFailure is WeChat Pay's own failure answer.
type notifyFailure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WeChatNotify serves POST /api/v1/notify/wechatpay and
// /api/v1/notify/wechatpay/refund in the platform's own format: 204 once
// the notification is accepted (or is a duplicate of an accepted one);
// otherwise the error kind's status with {"code":"FAIL","message"}, and
// WeChat Pay retries.
func (h *Handlers) WeChatNotify(c *gin.Context) { h.notify(c, ChannelWeChat, weChatReply) }

// WeChatRefundNotify serves POST /api/v1/notify/wechatpay/refund: the same
// handling (the notification's event type tells a refund from a payment).
func (h *Handlers) WeChatRefundNotify(c *gin.Context) { h.notify(c, ChannelWeChat, weChatReply) }

func weChatReply(c *gin.Context, err error) {
	if err == nil {
		c.Status(http.StatusNoContent)
		return
	}
	msg := "internal error"
	var e *apperr.Error
	if errors.As(err, &e) {
		msg = e.Message
	}
	c.AbortWithStatusJSON(httpx.Status(apperr.CodeOf(err)), notifyFailure{"FAIL", msg})
}

// alipayFail is the body of every answer that is not an acknowledgement:
// Alipay retries on anything but exactly "success".
const alipayFail = "fail"

// AlipayNotify serves POST /api/v1/notify/alipay, a form post: exactly
// "success" (text/plain) once the notification is verified and recorded;
// otherwise "fail" with the error kind's status (4xx: malformed,
// unverified, refused by a business check; 500: our fault), and Alipay
// retries.
func (h *Handlers) AlipayNotify(c *gin.Context) { h.notify(c, ChannelAlipay, alipayReply) }

func alipayReply(c *gin.Context, err error) {
	if err == nil {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(AlipayAck))
		return
	}
	c.Data(httpx.Status(apperr.CodeOf(err)), "text/plain; charset=utf-8", []byte(alipayFail))
	c.Abort()
}
