package payment

import (
	"net/http"

	"github.com/gin-gonic/gin"
)

// WeChatTooLarge answers a WeChat Pay notification whose body is over the
// request limit in WeChat Pay's own reply format (the sender does not read
// the API's error envelope); WeChat Pay retries it like any other failure.
func WeChatTooLarge(c *gin.Context) {
	c.AbortWithStatusJSON(http.StatusRequestEntityTooLarge, notifyFailure{"FAIL", "request body too large"})
}

// AlipayTooLarge answers an Alipay notification whose body is over the
// request limit in Alipay's plain-text format.
func AlipayTooLarge(c *gin.Context) {
	c.Data(http.StatusRequestEntityTooLarge, "text/plain; charset=utf-8", []byte(alipayFail))
	c.Abort()
}
