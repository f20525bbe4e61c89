package order_test

import (
	"context"
	"testing"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// The payment gate and the shipping port are connected after construction,
// so a service without them must refuse to cancel rather than skip closing
// the platform trades, or refuse to show an order rather than show it without
// its parcels; each can be connected once only.
func TestPortsAreConnectedOnce(t *testing.T) {
	t.Parallel()
	f := newFixture(t, dbtest.SQLite(t))
	bare, err := order.NewService(f.deps, testConfig(manyUnpaid))
	must(t, err)

	sku := f.sku(t, 1000, 5)
	o := f.order(t, 7, f.address(t, 7), line(sku, 1))
	if _, err := bare.Cancel(context.Background(), 7, o.ID); apperr.CodeOf(err) != apperr.CodeInternal {
		t.Fatalf("cancel without a payment gate: %v, want internal", err)
	}
	if got := statusOf(t, f, o.ID); got != order.StatusPendingPayment {
		t.Fatalf("status after the refused cancel = %s, want %s", got, order.StatusPendingPayment)
	}
	if err := bare.ConnectPayments(nil); err == nil {
		t.Error("a nil payment gate was accepted")
	}
	if err := bare.ConnectPayments(f.gate); err != nil {
		t.Fatalf("connect: %v", err)
	}
	if err := bare.ConnectPayments(f.gate); err == nil {
		t.Error("a second payment gate was accepted")
	}
	if _, err := bare.Get(context.Background(), 7, o.ID); apperr.CodeOf(err) != apperr.CodeInternal {
		t.Fatalf("read without a shipping port: %v, want internal", err)
	}
	if err := bare.ConnectShipping(nil); err == nil {
		t.Error("a nil shipping port was accepted")
	}
	must(t, bare.ConnectShipping(order.NoShipping{}))
	if err := bare.ConnectShipping(order.NoShipping{}); err == nil {
		t.Error("a second shipping port was accepted")
	}
	if _, err := bare.Cancel(context.Background(), 7, o.ID); err != nil {
		t.Fatalf("cancel once connected: %v", err)
	}
}
