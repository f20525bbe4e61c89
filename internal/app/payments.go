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
	var wp payment.WeChatPay
	if a.cfg.WeChatPay.Configured() {
		if a.cfg.WeChat.AppID == "" {
			return errors.New("WeChat Pay needs the mini-program's MINIMALL_WECHAT_APPID")
		}
		wc, err := wechatpay.ConfigFrom(a.cfg.WeChatPay, a.cfg.WeChat.AppID)
		if err != nil {
			return err
		}
		client, err := wechatpay.New(wc, a.clock)
		if err != nil {
			return err
		}
		wp = client
	}
	// The Alipay login client (buildPlatformLogins) is the same app that
	// receives payments; a typed nil must not become a non-nil interface.
	var ap payment.Alipay
	if a.alipay != nil {
		ap = a.alipay
	}
	if a.payments, err = payment.NewService(payment.Deps{
		DB: a.db, Store: store, Orders: a.orders, Identities: a.customers,
		WeChatPay: wp, Alipay: ap, Clock: a.clock, Log: a.log,
		PublicBaseURL: a.cfg.HTTP.PublicBaseURL, MaxNotifyBody: int64(a.cfg.HTTP.MaxBody),
		AlipaySellerID: a.cfg.Alipay.SellerID, ReconcileAfter: a.cfg.Payment.ReconcileAfter,
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
