package payment_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/payment"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// TestPrepayIDOnlyOnAPendingAttempt proves a trade opened for an attempt
// that a cancel closed meanwhile is not recorded as if it were payable: the
// caller learns it must close the trade again.
func TestPrepayIDOnlyOnAPendingAttempt(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st, err := payment.NewStore(d)
		must(t, err)
		now := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
		open := func(orderID int64, outTradeNo string) payment.Attempt {
			a := payment.Attempt{OrderID: orderID, CustomerID: 1, Channel: payment.ChannelWeChat, OutTradeNo: outTradeNo,
				AmountFen: 100, ExpiresAt: now.Add(30 * time.Minute), CreatedAt: now}
			must(t, st.InsertAttempt(ctx, &a))
			return a
		}
		pending := open(1, "T0000000000000001")
		got, err := st.SetPrepayID(ctx, pending.ID, "wx-1", now)
		if err != nil || got != "wx-1" {
			t.Fatalf("pending attempt: %q, %v", got, err)
		}
		// A second recording keeps the first prepay id.
		if got, err := st.SetPrepayID(ctx, pending.ID, "wx-2", now); err != nil || got != "wx-1" {
			t.Fatalf("second prepay id: %q, %v", got, err)
		}
		closed := open(2, "T0000000000000002")
		if ok, err := st.MarkClosed(ctx, closed.ID, "", now); err != nil || !ok {
			t.Fatalf("close: %v %v", ok, err)
		}
		if _, err := st.SetPrepayID(ctx, closed.ID, "wx-3", now); !errors.Is(err, payment.ErrAttemptNotPending) {
			t.Fatalf("closed attempt: %v, want ErrAttemptNotPending", err)
		}
		a, err := st.AttemptByID(ctx, closed.ID)
		must(t, err)
		if a.PrepayID != "" || a.Status != payment.StatusClosed {
			t.Fatalf("closed attempt after: %+v", a)
		}
	})
}

// TestOneOpenAttemptPerOrderAcrossChannels: the database refuses a second
// open attempt for an order, on any channel, until the first one closes; a
// close guarded by the prepay id seen before misses an attempt whose trade
// was opened meanwhile.
func TestOneOpenAttemptPerOrderAcrossChannels(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		st, err := payment.NewStore(d)
		must(t, err)
		now := time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)
		attempt := func(ch payment.Channel, outTradeNo string) payment.Attempt {
			return payment.Attempt{OrderID: 7, CustomerID: 1, Channel: ch, OutTradeNo: outTradeNo,
				AmountFen: 100, ExpiresAt: now.Add(30 * time.Minute), CreatedAt: now}
		}
		wx := attempt(payment.ChannelWeChat, "WX0000000000000001")
		must(t, st.InsertAttempt(ctx, &wx))
		al := attempt(payment.ChannelAlipay, "AL0000000000000001")
		if err := st.InsertAttempt(ctx, &al); !db.IsDuplicate(err) {
			t.Fatalf("second open attempt on another channel: %v, want a duplicate key", err)
		}
		if got, ok, err := st.OpenAttempt(ctx, 7); err != nil || !ok || got.ID != wx.ID {
			t.Fatalf("open attempt: %+v %v %v", got, ok, err)
		}
		// The platform said the trade does not exist, then a concurrent pay
		// request recorded its prepay: the close seen without one misses.
		_, err = st.SetPrepayID(ctx, wx.ID, "wx-1", now)
		must(t, err)
		if ok, err := st.MarkClosed(ctx, wx.ID, "", now); err != nil || ok {
			t.Fatalf("close without the recorded prepay id: %v %v", ok, err)
		}
		if ok, err := st.MarkClosed(ctx, wx.ID, "wx-1", now); err != nil || !ok {
			t.Fatalf("close: %v %v", ok, err)
		}
		al = attempt(payment.ChannelAlipay, "AL0000000000000002")
		must(t, st.InsertAttempt(ctx, &al))
	})
}
