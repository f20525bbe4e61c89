package app

import (
	"context"
	"time"

	"github.com/minimall/minimall/internal/logistics"
	"github.com/minimall/minimall/internal/platform/courier"
	"github.com/minimall/minimall/internal/platform/jobs"
	"github.com/minimall/minimall/internal/platform/wechat/push"
)

// logisticsOutboxEvery is how often the logistics outbox job looks for due
// platform calls (ARCHITECTURE.md: 10 s or less).
const logisticsOutboxEvery = 5 * time.Second

// logisticsOutboxBatch bounds one step of the outbox job.
const logisticsOutboxBatch = 100

// buildLogistics wires the logistics module to the order service, the
// payment attempts, the WeChat client and the courier API, registers its
// WeChat push events and its outbox job. It runs after buildOrders.
func (a *App) buildLogistics() error {
	store, err := logistics.NewStore(a.db)
	if err != nil {
		return err
	}
	// Typed nil pointers would make non-nil interfaces: pass only
	// configured platforms.
	var wc logistics.WeChat = logistics.NoWeChat{}
	if a.wechat != nil {
		wc = a.wechat
	}
	var cc logistics.Courier = logistics.NoCourier{}
	if a.cfg.Courier.Configured() {
		if cc, err = courier.New(courier.Config{APIBase: a.cfg.Courier.APIBase, Key: a.cfg.Courier.Key,
			Customer: a.cfg.Courier.Customer, Salt: a.cfg.Courier.Salt}); err != nil {
			return err
		}
	}
	if a.logistics, err = logistics.NewService(logistics.Deps{
		DB: a.db, Store: store, Orders: a.orders, Payments: a.payments,
		WeChat: wc, Courier: cc, Audit: a.audit, Clock: a.clock, Log: a.log,
	}, logistics.Config{CallbackURL: a.cfg.HTTP.PublicBaseURL + "/api/v1/notify/courier",
		WeChatPayMchID: a.cfg.WeChatPay.MchID}); err != nil {
		return err
	}
	if a.logisticsH, err = logistics.NewHandlers(a.logistics); err != nil {
		return err
	}
	for name, h := range map[string]func(context.Context, push.Event) error{
		logistics.EventOrderSettlement: a.logistics.OnSettlement,
		logistics.EventRemindShipping:  a.logistics.OnReminder,
		logistics.EventRemindAccessAPI: a.logistics.OnReminder,
	} {
		if err := a.wechatPush.Handle(name, h); err != nil {
			return err
		}
	}
	return a.addJobs(jobs.Job{Name: "logistics-outbox", Every: logisticsOutboxEvery, Batch: logisticsOutboxBatch,
		Step: a.logistics.DeliverOutbox})
}

// Logistics returns the logistics service: TrackParcel for the modules that
// register parcels, and the outbox job step tests drive.
func (a *App) Logistics() *logistics.Service { return a.logistics }
