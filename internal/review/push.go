package review

import (
	"context"

	"github.com/minimall/minimall/internal/apperr"
)

// EventMediaCheck is the message-push event that carries the verdict of a
// mediaCheckAsync submission.
const EventMediaCheck = "wxa_media_check"

// MediaCheckEvent is the wxa_media_check message as WeChat pushes it (JSON
// or XML, after the push endpoint verified and decrypted it).
type MediaCheckEvent struct {
	AppID   string `json:"appid" xml:"appid"`
	TraceID string `json:"trace_id" xml:"trace_id"`
	Version int    `json:"version" xml:"version"`
	ErrCode int    `json:"errcode" xml:"errcode"`
	Result  struct {
		Suggest string `json:"suggest" xml:"suggest"`
		Label   int    `json:"label" xml:"label"`
	} `json:"result" xml:"result"`
}

// HandleMediaCheck applies a wxa_media_check event: the verdict of one
// image. An event for another app is refused; one with an errcode (WeChat
// could not judge the image) leaves the image pending, to be submitted
// again by the job when its verdict is overdue.
func (s *Service) HandleMediaCheck(ctx context.Context, appID string, ev MediaCheckEvent) error {
	if ev.AppID != "" && appID != "" && ev.AppID != appID {
		return apperr.Invalid("the event is for another mini-program", "appid")
	}
	if ev.TraceID == "" {
		return apperr.Invalid("the event has no trace_id", "trace_id")
	}
	if ev.ErrCode != 0 {
		s.d.Log.WarnContext(ctx, "WeChat could not check an image", "trace_id", ev.TraceID, "errcode", ev.ErrCode)
		return nil
	}
	return s.ApplyImageVerdict(ctx, ev.TraceID, ev.Result.Suggest)
}
