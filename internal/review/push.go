package review

import (
	"context"
	"errors"

	"github.com/minimall/minimall/internal/platform/wechat/push"
)

// EventMediaCheck is the message-push event that carries the verdict of a
// mediaCheckAsync submission.
const EventMediaCheck = "wxa_media_check"

// MediaCheckEvent is the wxa_media_check message as WeChat pushes it (JSON
// or XML).
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

// OnMediaCheck handles a wxa_media_check event delivered by the message-push
// dispatcher (which has verified its signature and decrypted it). An event
// this shop cannot use (another app's, no trace id, an errcode: WeChat could
// not judge the image, which is then submitted again when its verdict is
// overdue) is logged and acknowledged. Only a trace id no image carries yet
// (the push outran the storing of the submission) or a failure of ours
// answers an error, so that WeChat delivers the event again.
func (s *Service) OnMediaCheck(ctx context.Context, e push.Event) error {
	var ev MediaCheckEvent
	if err := e.Decode(&ev); err != nil {
		s.d.Log.WarnContext(ctx, "unreadable wxa_media_check event", "err", err)
		return nil
	}
	switch {
	case s.cfg.WeChatAppID != "" && ev.AppID != "" && ev.AppID != s.cfg.WeChatAppID:
		s.d.Log.WarnContext(ctx, "wxa_media_check event for another app", "appid", ev.AppID)
		return nil
	case ev.TraceID == "":
		s.d.Log.WarnContext(ctx, "wxa_media_check event without a trace_id")
		return nil
	case ev.ErrCode != 0:
		s.d.Log.WarnContext(ctx, "WeChat could not check an image", "trace_id", ev.TraceID, "errcode", ev.ErrCode)
		return nil
	}
	err := s.ApplyImageVerdict(ctx, ev.TraceID, ev.Result.Suggest)
	if err != nil && !errors.Is(err, ErrUnknownTrace) && isInvalid(err) {
		s.d.Log.WarnContext(ctx, "wxa_media_check event refused", "trace_id", ev.TraceID, "err", err)
		return nil
	}
	return err
}
