package payment

import (
	"errors"
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/httpx"
	"github.com/minimall/minimall/internal/platform/wechatpay"
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

// payResponse is the answer of POST /api/v1/orders/{id}/pay.
type payResponse struct {
	Channel        Channel                   `json:"channel"`
	OutTradeNo     string                    `json:"out_trade_no"`
	RequestPayment *wechatpay.RequestPayment `json:"request_payment,omitempty"`
	TradeNo        string                    `json:"trade_no,omitempty"`
}

// Pay serves POST /api/v1/orders/{id}/pay {"channel":"wechat"|"alipay"}.
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
	c.JSON(http.StatusOK, payResponse{
		Channel: res.Channel, OutTradeNo: res.OutTradeNo, RequestPayment: res.RequestPayment, TradeNo: res.TradeNo,
	})
}

// notifyFailure is WeChat Pay's own failure answer.
type notifyFailure struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

// WeChatNotify serves POST /api/v1/notify/wechatpay in the platform's own
// format: 204 once the notification is accepted (or is a duplicate of an
// accepted one); otherwise a 4xx or 5xx with {"code":"FAIL","message"}, and
// WeChat Pay retries. Malformed input is a 4xx; a panic is a 500.
func (h *Handlers) WeChatNotify(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			httpx.Logger(c).ErrorContext(c.Request.Context(), "wechat pay notification panicked", "panic", fmt.Sprint(p))
			c.AbortWithStatusJSON(http.StatusInternalServerError, notifyFailure{"FAIL", "internal error"})
		}
	}()
	err := h.svc.HandleWeChatNotification(c.Request.Context(), c.Request)
	if err == nil {
		c.Status(http.StatusNoContent)
		return
	}
	var ref *Refusal
	if errors.As(err, &ref) {
		c.AbortWithStatusJSON(ref.Status, notifyFailure{"FAIL", ref.Message})
		return
	}
	httpx.Logger(c).ErrorContext(c.Request.Context(), "wechat pay notification failed", "err", err)
	c.AbortWithStatusJSON(http.StatusInternalServerError, notifyFailure{"FAIL", "internal error"})
}

// alipayFail is the body of every answer that is not an acknowledgement:
// Alipay retries on anything but exactly "success".
const alipayFail = "fail"

// AlipayNotify serves POST /api/v1/notify/alipay, a form post: exactly
// "success" (text/plain) once the notification is verified and recorded;
// otherwise "fail" with a 4xx (malformed, unverified, refused by a business
// check) or a 500 (our fault), and Alipay retries. Malformed input is never a
// 5xx; a panic is a 500.
func (h *Handlers) AlipayNotify(c *gin.Context) {
	defer func() {
		if p := recover(); p != nil {
			httpx.Logger(c).ErrorContext(c.Request.Context(), "alipay notification panicked", "panic", fmt.Sprint(p))
			c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(alipayFail))
			c.Abort()
		}
	}()
	if err := c.Request.ParseForm(); err != nil {
		status := http.StatusBadRequest
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			status = http.StatusRequestEntityTooLarge
		}
		c.Data(status, "text/plain; charset=utf-8", []byte(alipayFail))
		return
	}
	err := h.svc.HandleAlipayNotification(c.Request.Context(), c.Request.PostForm)
	if err == nil {
		c.Data(http.StatusOK, "text/plain; charset=utf-8", []byte(AlipayAck))
		return
	}
	var ref *Refusal
	if errors.As(err, &ref) {
		c.Data(ref.Status, "text/plain; charset=utf-8", []byte(alipayFail))
		return
	}
	httpx.Logger(c).ErrorContext(c.Request.Context(), "alipay notification failed", "err", err)
	c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(alipayFail))
}
