package payment_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	customers "github.com/minimall/minimall/internal/customer"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
	"github.com/minimall/minimall/internal/platform/httpx"
)

// noOrders fails the test when the service reaches for an order it must not
// need.
type noOrders struct{ t *testing.T }

func (o noOrders) Get(context.Context, int64, int64) (order.Order, error) {
	o.t.Error("order read without WeChat Pay configured")
	return order.Order{}, errors.New("unexpected")
}

func (o noOrders) ByID(context.Context, int64) (order.Order, error) {
	o.t.Error("order read without WeChat Pay configured")
	return order.Order{}, errors.New("unexpected")
}

func (o noOrders) MarkPaid(context.Context, int64, int64, time.Time, order.Actor) error {
	o.t.Error("MarkPaid called without WeChat Pay configured")
	return errors.New("unexpected")
}

type noIdentities struct{}

func (noIdentities) Identities(context.Context, int64, string) ([]customers.Identity, error) {
	return nil, nil
}

func TestWithoutWeChatPayConfigured(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		store, err := payment.NewStore(d)
		must(t, err)
		svc, err := payment.NewService(payment.Deps{
			DB: d, Store: store, Orders: noOrders{t}, Identities: noIdentities{},
			Clock: clock.NewFake(time.Now()), Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			PublicBaseURL: "https://shop.example.com", MaxNotifyBody: 1 << 20,
		})
		must(t, err)
		ctx := context.Background()
		for _, ch := range []payment.Channel{payment.ChannelWeChat, payment.ChannelAlipay} {
			if _, err := svc.Pay(ctx, 1, 1, ch); apperr.CodeOf(err) != apperr.CodeChannelUnavailable {
				t.Errorf("pay on %s: %v, want channel_unavailable", ch, err)
			}
		}
		// The handlers answer a notification for a channel that is not
		// configured with 404 in the platform's format.
		for _, ch := range []payment.Channel{payment.ChannelWeChat, payment.ChannelAlipay} {
			err := svc.HandleNotification(ctx, ch, payment.Delivery{Header: http.Header{}, Body: []byte(`{}`)})
			if code := apperr.CodeOf(err); httpx.Status(code) != http.StatusNotFound {
				t.Errorf("%s notification: %v, want a 404 refusal", ch, err)
			}
		}
		if paid, err := svc.CloseOpen(ctx, 1); paid || err != nil {
			t.Errorf("CloseOpen without attempts: %v, %v", paid, err)
		}
	})
}

func TestNewServiceRefusesMissingDependencies(t *testing.T) {
	d := dbtest.SQLite(t)
	store, err := payment.NewStore(d)
	must(t, err)
	full := payment.Deps{
		DB: d, Store: store, Orders: noOrders{t}, Identities: noIdentities{},
		Clock: clock.System{}, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		PublicBaseURL: "https://shop.example.com", MaxNotifyBody: 1 << 20,
	}
	tests := []struct {
		name   string
		mutate func(*payment.Deps)
	}{
		{"db", func(d *payment.Deps) { d.DB = nil }},
		{"store", func(d *payment.Deps) { d.Store = nil }},
		{"orders", func(d *payment.Deps) { d.Orders = nil }},
		{"identities", func(d *payment.Deps) { d.Identities = nil }},
		{"clock", func(d *payment.Deps) { d.Clock = nil }},
		{"log", func(d *payment.Deps) { d.Log = nil }},
		{"base url", func(d *payment.Deps) { d.PublicBaseURL = "shop.example.com" }},
		{"body limit", func(d *payment.Deps) { d.MaxNotifyBody = 0 }},
		{"nil channel", func(d *payment.Deps) { d.Channels = []payment.Gateway{nil} }},
	}
	if _, err := payment.NewService(full); err != nil {
		t.Fatalf("complete dependencies refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps := full
			tt.mutate(&deps)
			if _, err := payment.NewService(deps); err == nil {
				t.Fatal("accepted")
			}
		})
	}
}
