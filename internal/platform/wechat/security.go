package wechat

import (
	"context"
	"errors"
	"fmt"

	"github.com/silenceper/wechat/v2/miniprogram/security"
	"github.com/silenceper/wechat/v2/util"

	"github.com/minimall/minimall/internal/apperr"
)

// Content-security verdicts (suggest) of msgSecCheck and mediaCheckAsync.
const (
	SuggestPass   = "pass"
	SuggestReview = "review"
	SuggestRisky  = "risky"
)

// SceneComment is the content-security scene of reviews (评论).
const SceneComment = 2

// mediaTypeImage is mediaCheckAsync's media_type of an image.
const mediaTypeImage = 2

// TextVerdict is msgSecCheck's overall answer for a text.
type TextVerdict struct {
	Suggest string
	Label   int
	TraceID string
}

// CheckText asks msgSecCheck (version 2) about content written by the user
// with openID in the comment scene. Failures are *apperr.Error:
// upstream_unavailable when WeChat is busy or unreachable (-1, transport
// errors), upstream_error for any other errcode (e.g. 61010: the user has
// not opened the mini-program in the last two hours).
func (c *Client) CheckText(ctx context.Context, openID, content string) (TextVerdict, error) {
	res, err := c.mp.GetSecurity().MsgCheckContext(c.ctx(ctx), &security.MsgCheckRequest{
		OpenID: openID, Scene: security.MsgSceneComment, Content: content,
	})
	if res.ErrCode != 0 {
		return TextVerdict{}, securityError(res.ErrCode, res.ErrMsg)
	}
	if err != nil {
		return TextVerdict{}, unreachable(err)
	}
	v := TextVerdict{Suggest: string(res.Result.Suggest), Label: int(res.Result.Label), TraceID: res.TraceID}
	switch v.Suggest {
	case SuggestPass, SuggestReview, SuggestRisky:
		return v, nil
	}
	return TextVerdict{}, apperr.New(apperr.CodeUpstreamError, "WeChat answered an unknown content verdict").
		WithCause(fmt.Errorf("msg_sec_check suggest %q", v.Suggest))
}

// CheckImageAsync submits an image URL to mediaCheckAsync (version 2) and
// returns the trace_id its verdict will carry in the wxa_media_check
// message push. Failures are as CheckText's.
func (c *Client) CheckImageAsync(ctx context.Context, openID, mediaURL string) (string, error) {
	trace, err := c.mp.GetSecurity().MediaCheckAsyncContext(c.ctx(ctx), &security.MediaCheckAsyncRequest{
		MediaURL: mediaURL, MediaType: mediaTypeImage, OpenID: openID, Scene: SceneComment,
	})
	var ce *util.CommonError
	if errors.As(err, &ce) {
		return "", securityError(ce.ErrCode, ce.ErrMsg)
	}
	if err != nil {
		return "", unreachable(err)
	}
	if trace == "" {
		return "", apperr.New(apperr.CodeUpstreamError, "WeChat answered without a trace_id")
	}
	return trace, nil
}

func securityError(code int64, msg string) error {
	cause := fmt.Errorf("wechat errcode=%d errmsg=%s", code, msg)
	if code == ErrCodeBusy {
		return apperr.New(apperr.CodeUpstreamUnavailable, "WeChat is busy; try again").WithCause(cause)
	}
	return apperr.New(apperr.CodeUpstreamError, "WeChat refused the content check").WithCause(cause)
}

func unreachable(err error) error {
	return apperr.New(apperr.CodeUpstreamUnavailable, "WeChat could not be reached; try again").WithCause(err)
}
