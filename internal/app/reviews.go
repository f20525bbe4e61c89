package app

import (
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/media"
	"github.com/minimall/minimall/internal/platform/jobs"
	"github.com/minimall/minimall/internal/review"
)

// reviewJobsEvery is how often the review jobs look for texts to check
// again and images to submit (ARCHITECTURE.md: 10 s or less).
const reviewJobsEvery = 10 * time.Second

// buildMedia wires image uploads on the configured storage: a local
// directory served under /media/, or an S3-compatible object store.
func (a *App) buildMedia() error {
	var storage media.Storage
	var dir *media.Dir
	var err error
	if a.cfg.Media.S3() {
		secret, err := os.ReadFile(a.cfg.Media.S3SecretKeyFile)
		if err != nil {
			return fmt.Errorf("MINIMALL_MEDIA_S3_SECRET_KEY_FILE: %w", err)
		}
		if storage, err = media.NewS3(media.S3Config{
			Endpoint: a.cfg.Media.S3Endpoint, Bucket: a.cfg.Media.S3Bucket, Region: a.cfg.Media.S3Region,
			AccessKey: a.cfg.Media.S3AccessKey, SecretKey: strings.TrimSpace(string(secret)), PathStyle: a.cfg.Media.S3PathStyle,
		}); err != nil {
			return err
		}
	} else {
		if dir, err = media.NewDir(a.cfg.Media.Dir); err != nil {
			return err
		}
		storage = dir
	}
	store, err := media.NewStore(a.db)
	if err != nil {
		return err
	}
	if a.media, err = media.NewService(a.db, store, storage, a.clock, media.Config{
		MaxBytes: int64(a.cfg.Upload.MaxBytes), DailyLimit: a.cfg.Upload.DailyLimit,
		PublicBaseURL: a.cfg.Media.PublicBaseURL, AllowedHosts: a.cfg.Media.AllowedHosts,
	}); err != nil {
		return err
	}
	a.mediaH, err = media.NewHandlers(a.media, dir)
	return err
}

// buildReviews wires the review module to the orders, the catalog's rating
// summaries and read cache, the uploads, and WeChat's content checks, whose
// image verdicts arrive on the message push.
func (a *App) buildReviews() error {
	store, err := review.NewStore(a.db)
	if err != nil {
		return err
	}
	var checker review.ContentChecker
	if a.wechat != nil {
		checker = a.wechat
	}
	if a.reviews, err = review.NewService(review.Deps{
		DB: a.db, Store: store, Orders: a.orders, Customers: a.login,
		Media: a.media, Ratings: a.catalogSvc, Catalog: a.catalogSvc, Checker: checker,
		Audit: a.audit, Clock: a.clock, Log: a.log,
	}, review.Config{
		Window: a.cfg.Review.Window, AutoPublishAlipay: a.cfg.Review.AutoPublishAlipay, WeChatAppID: a.cfg.WeChat.AppID,
	}); err != nil {
		return err
	}
	if a.reviewsH, err = review.NewHandlers(a.reviews); err != nil {
		return err
	}
	if err := a.wechatPush.Handle(review.EventMediaCheck, a.reviews.OnMediaCheck); err != nil {
		return err
	}
	return a.addJobs(
		jobs.Job{Name: "review-text-recheck", Every: reviewJobsEvery, Batch: review.JobBatch, Step: a.reviews.RecheckTexts},
		jobs.Job{Name: "review-image-submit", Every: reviewJobsEvery, Batch: review.JobBatch, Step: a.reviews.SubmitImages},
	)
}

// Reviews returns the review service, whose job steps tests drive directly.
func (a *App) Reviews() *review.Service { return a.reviews }
