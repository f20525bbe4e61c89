package order_test

import (
	"context"
	"testing"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/order"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

// Checkout copies the address as it is stored when the order is placed: a
// change through the service (this instance), a change it did not see
// (another instance, here direct SQL) and a deletion are all honoured, and
// a refused checkout writes nothing.
func TestCheckoutCopiesTheStoredAddress(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		f := newFixture(t, d)
		ctx := context.Background()
		sku := f.sku(t, 100, 100)
		const customer = int64(31)
		addr := f.address(t, customer)
		place := func() (order.Order, error) {
			o, _, err := f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: customer, AddressID: addr,
				Items: []order.LineInput{line(sku, 1)}})
			return o, err
		}
		stored := func(o order.Order) order.Address {
			got, err := f.svc.Get(ctx, customer, o.ID)
			must(t, err)
			return got.Address
		}
		o, err := place()
		must(t, err)
		if got := stored(o); got.Detail != "文三路 1 号" || o.Address != got {
			t.Fatalf("first order: answered %+v, stored %+v", o.Address, got)
		}

		// Through the service.
		_, err = f.addrs.Update(ctx, customer, addr, address.Input{Name: "李四", Phone: "13900139000",
			Province: "浙江省", City: "杭州市", District: "西湖区", Detail: "文二路 2 号"})
		must(t, err)
		o, err = place()
		must(t, err)
		if got := stored(o); got.Name != "李四" || got.Detail != "文二路 2 号" || o.Address != got {
			t.Errorf("after an update through the service: answered %+v, stored %+v", o.Address, got)
		}

		// Behind the service's back (another instance).
		must(t, d.Writer(ctx).Exec("UPDATE addresses SET detail = ?, phone = ? WHERE id = ?", "文一路 3 号", "13700137000", addr).Error)
		o, err = place()
		must(t, err)
		if got := stored(o); got.Detail != "文一路 3 号" || got.Phone != "13700137000" || o.Address != got {
			t.Errorf("after a change the service did not see: answered %+v, stored %+v", o.Address, got)
		}

		// Deleted behind its back: not found, and nothing is written.
		orders, units := f.count(t, "orders"), f.stock(t, sku)
		must(t, d.Writer(ctx).Exec("DELETE FROM addresses WHERE id = ?", addr).Error)
		_, err = place()
		wantCode(t, err, apperr.CodeNotFound)
		if f.count(t, "orders") != orders || f.stock(t, sku) != units {
			t.Errorf("a refused checkout wrote: orders %d → %d, stock %d → %d", orders, f.count(t, "orders"), units, f.stock(t, sku))
		}

		// Another customer cannot use the address.
		other := f.address(t, customer)
		_, _, err = f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: customer, AddressID: other, Items: []order.LineInput{line(sku, 1)}})
		must(t, err)
		_, _, err = f.svc.Checkout(ctx, order.CheckoutInput{CustomerID: customer + 1, AddressID: other, Items: []order.LineInput{line(sku, 1)}})
		wantCode(t, err, apperr.CodeNotFound)
	})
}
