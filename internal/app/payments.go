package app

import (
	"errors"
	"time"

	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/jobs"
	"github.com/minimall/minimall/internal/platform/wechatpay"
)

// buildPayments wires the payment module on the order service and, when
// configured, its WeChat Pay and Alipay adapters. It runs after buildOrders:
// payments read orders and move them to paid.
func (a *App) buildPayments() error {
	store, err := payment.NewStore(a.db)
	if err != nil {
		return err
	}
	var channels []payment.Gateway
	if a.cfg.WeChatPay.Configured() {
		if a.cfg.WeChat.AppID == "" {
			return errors.New("WeChat Pay needs the mini-program's MINIMALL_WECHAT_APPID")
		}
		wc, err := wechatpay.ConfigFrom(a.cfg.WeChatPay, a.cfg.WeChat.AppID)
		if err != nil {
			return err
		}
		wc.Timeout = a.cfg.Payment.PlatformTimeout
		client, err := wechatpay.New(wc, a.clock)
		if err != nil {
			return err
		}
		g, err := payment.NewWeChatGateway(client)
		if err != nil {
			return err
		}
		channels = append(channels, g)
	}
	// The Alipay login client (buildPlatformLogins) is the same app that
	// receives payments.
	if a.alipay != nil {
		g, err := payment.NewAlipayGateway(a.alipay, a.cfg.Alipay.SellerID)
		if err != nil {
			return err
		}
		channels = append(channels, g)
	}
	if a.payments, err = payment.NewService(payment.Deps{
		DB: a.db, Store: store, Orders: a.orders, Identities: a.customers, Channels: channels,
		Clock: a.clock, Log: a.log, PublicBaseURL: a.cfg.HTTP.PublicBaseURL, MaxNotifyBody: int64(a.cfg.HTTP.MaxBody),
		ReconcileAfter: a.cfg.Payment.ReconcileAfter,
	}); err != nil {
		return err
	}
	if a.paymentsH, err = payment.NewHandlers(a.payments); err != nil {
		return err
	}
	return a.addJobs(
		jobs.Job{Name: "payment-reconcile", Every: paymentJobsEvery, Batch: payment.JobBatch, Step: a.payments.ReconcilePending},
		jobs.Job{Name: "payment-refund-settle", Every: paymentJobsEvery, Batch: payment.JobBatch, Step: a.payments.SettleRefunds},
		jobs.Job{Name: "payment-anomaly-refund", Every: paymentJobsEvery, Batch: payment.JobBatch, Step: a.payments.RefundAnomalies},
	)
}

// paymentJobsEvery is how often the payment jobs look for due work
// (ARCHITECTURE.md: 10 s or less).
const paymentJobsEvery = 5 * time.Second
