package address_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/address"
	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func newAddressService(t *testing.T, d *db.DB) *address.Service {
	t.Helper()
	st, err := address.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := address.NewService(d, st, clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

func addressInput(name string, isDefault bool) address.Input {
	return address.Input{Name: name, Phone: "138 0013 8000", Province: "浙江省", City: "杭州市",
		District: "西湖区", Detail: "文三路 100 号", IsDefault: isDefault}
}

func defaults(t *testing.T, svc *address.Service, customer int64) []int64 {
	t.Helper()
	list, err := svc.List(context.Background(), customer)
	if err != nil {
		t.Fatal(err)
	}
	var out []int64
	for _, a := range list {
		if a.IsDefault {
			out = append(out, a.ID)
		}
	}
	return out
}

func TestAddressValidation(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc := newAddressService(t, d)
		long := ""
		for range address.MaxDetailLen + 1 {
			long += "路"
		}
		cases := []struct {
			name  string
			edit  func(in *address.Input)
			field string
		}{
			{"empty name", func(in *address.Input) { in.Name = " " }, "name"},
			{"landline", func(in *address.Input) { in.Phone = "0571-88888888" }, "phone"},
			{"short mobile", func(in *address.Input) { in.Phone = "1380013800" }, "phone"},
			{"bad prefix", func(in *address.Input) { in.Phone = "12800138000" }, "phone"},
			{"letters", func(in *address.Input) { in.Phone = "1380013800a" }, "phone"},
			{"no province", func(in *address.Input) { in.Province = "" }, "province"},
			{"no city", func(in *address.Input) { in.City = "" }, "city"},
			{"no district", func(in *address.Input) { in.District = "" }, "district"},
			{"long detail", func(in *address.Input) { in.Detail = long }, "detail"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := addressInput("张三", false)
				tc.edit(&in)
				_, err := svc.Create(ctx, 1, in)
				var ae *apperr.Error
				if e, ok := err.(*apperr.Error); ok {
					ae = e
				}
				if ae == nil || ae.Code != apperr.CodeInvalid || fmt.Sprint(ae.Details["fields"]) != "["+tc.field+"]" {
					t.Fatalf("err = %v, want invalid %s", err, tc.field)
				}
			})
		}
		a, err := svc.Create(ctx, 1, address.Input{Name: "李四", Phone: "+86 139-0000-1111", Province: "北京市",
			City: "北京市", District: "朝阳区", Detail: "建国路 1 号"})
		if err != nil {
			t.Fatal(err)
		}
		if a.Phone != "13900001111" || !a.IsDefault {
			t.Fatalf("address = %+v, want normalised phone and default (first address)", a)
		}
	})
}

func TestAddressDefaultsAndOwnership(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc := newAddressService(t, d)
		home, err := svc.Create(ctx, 1, addressInput("家", false))
		if err != nil {
			t.Fatal(err)
		}
		office, err := svc.Create(ctx, 1, addressInput("公司", false))
		if err != nil {
			t.Fatal(err)
		}
		if got := defaults(t, svc, 1); fmt.Sprint(got) != fmt.Sprint([]int64{home.ID}) {
			t.Fatalf("defaults = %v, want the first address", got)
		}
		other, err := svc.Create(ctx, 2, addressInput("别人", false))
		if err != nil {
			t.Fatal(err)
		}
		// A new default replaces the old one.
		third, err := svc.Create(ctx, 1, addressInput("学校", true))
		if err != nil {
			t.Fatal(err)
		}
		if got := defaults(t, svc, 1); fmt.Sprint(got) != fmt.Sprint([]int64{third.ID}) {
			t.Fatalf("defaults = %v, want %d", got, third.ID)
		}
		// Updating another to default moves it; unsetting the default keeps it.
		if _, err := svc.Update(ctx, 1, office.ID, addressInput("公司2", true)); err != nil {
			t.Fatal(err)
		}
		if a, err := svc.Update(ctx, 1, office.ID, addressInput("公司3", false)); err != nil || !a.IsDefault || a.Name != "公司3" {
			t.Fatalf("unset default = %+v, %v; want it still default", a, err)
		}
		if got := defaults(t, svc, 1); fmt.Sprint(got) != fmt.Sprint([]int64{office.ID}) {
			t.Fatalf("defaults = %v, want %d", got, office.ID)
		}
		list, _ := svc.List(ctx, 1)
		if list[0].ID != office.ID {
			t.Fatalf("list starts with %d, want the default %d", list[0].ID, office.ID)
		}
		// Another customer's address is not found for read, update or delete.
		if _, err := svc.Get(ctx, 1, other.ID); apperr.CodeOf(err) != apperr.CodeNotFound {
			t.Fatalf("get other's: %v", err)
		}
		if _, err := svc.Update(ctx, 1, other.ID, addressInput("x", true)); apperr.CodeOf(err) != apperr.CodeNotFound {
			t.Fatalf("update other's: %v", err)
		}
		if err := svc.Delete(ctx, 1, other.ID); apperr.CodeOf(err) != apperr.CodeNotFound {
			t.Fatalf("delete other's: %v", err)
		}
		if got := defaults(t, svc, 2); fmt.Sprint(got) != fmt.Sprint([]int64{other.ID}) {
			t.Fatalf("customer 2 defaults = %v", got)
		}
		// Deleting the default promotes the newest remaining address.
		if err := svc.Delete(ctx, 1, office.ID); err != nil {
			t.Fatal(err)
		}
		if got := defaults(t, svc, 1); fmt.Sprint(got) != fmt.Sprint([]int64{third.ID}) {
			t.Fatalf("defaults after delete = %v, want %d", got, third.ID)
		}
		if err := svc.Delete(ctx, 1, office.ID); apperr.CodeOf(err) != apperr.CodeNotFound {
			t.Fatalf("second delete: %v", err)
		}
	})
}

func TestAddressLimit(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc := newAddressService(t, d)
		for i := range address.MaxPerCustomer {
			if _, err := svc.Create(ctx, 1, addressInput(fmt.Sprint("地址", i), false)); err != nil {
				t.Fatal(err)
			}
		}
		_, err := svc.Create(ctx, 1, addressInput("多一个", false))
		if apperr.CodeOf(err) != apperr.CodeLimitExceeded {
			t.Fatalf("21st address: %v, want limit_exceeded", err)
		}
		if list, _ := svc.List(ctx, 1); len(list) != address.MaxPerCustomer {
			t.Fatalf("%d addresses, want %d", len(list), address.MaxPerCustomer)
		}
	})
}

func TestConcurrentDefaultChangesLeaveOneDefault(t *testing.T) {
	t.Parallel()
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		svc := newAddressService(t, d)
		var ids []int64
		for i := range 8 {
			a, err := svc.Create(ctx, 1, addressInput(fmt.Sprint("地址", i), false))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, a.ID)
		}
		var wg sync.WaitGroup
		errs := make(chan error, 3*len(ids)+10)
		for round := range 3 {
			for _, id := range ids {
				wg.Add(1)
				go func() {
					defer wg.Done()
					_, err := svc.Update(ctx, 1, id, addressInput(fmt.Sprint("改", round), true))
					errs <- err
				}()
			}
		}
		// New defaults created concurrently as well, for a second customer
		// starting from no address at all.
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := svc.Create(ctx, 3, addressInput(fmt.Sprint("新", i), i%2 == 0))
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range []int64{1, 3} {
			if got := defaults(t, svc, c); len(got) != 1 {
				t.Fatalf("customer %d has defaults %v, want exactly one", c, got)
			}
		}
	})
}
