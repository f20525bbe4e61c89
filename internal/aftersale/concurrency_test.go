package aftersale_test

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
)

// TestConcurrentApprovalsNeverRefundTwice fires 20 approvals at once at
// three overlapping requests of one order (every line of it) and, for a
// second order, 20 concurrent customer requests for the same line: each
// request is approved once, the refunds never exceed what each line and the
// order paid, stock comes back once, and only one request of a line opens.
func TestConcurrentApprovalsNeverRefundTwice(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login("alice", "wechat")
		o, skus := e.threeLines(c)
		var ids []int64
		for _, it := range o.Items {
			ids = append(ids, e.ask(c, o.ID, "refund_only", http.StatusCreated, [3]int64{it.ID, it.Quantity, 0}).ID)
		}
		var wg sync.WaitGroup
		statuses := make([]int, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				statuses[i], _ = e.do(e.owner, http.MethodPost, fmt.Sprintf("/api/v1/admin/aftersales/%d/approve", ids[i%3]), nil)
			}()
		}
		wg.Wait()
		ok := 0
		for _, st := range statuses {
			switch st {
			case http.StatusOK:
				ok++
			case http.StatusConflict:
			default:
				t.Errorf("approval answered %d", st)
			}
		}
		if ok != 3 {
			t.Errorf("%d approvals succeeded, want 3", ok)
		}
		e.settle()
		var total int64
		for _, id := range ids {
			r := e.request(c, id)
			if r.Status != "refunded" {
				t.Errorf("request %d is %s", id, r.Status)
			}
			total += r.RefundFen
		}
		if total != o.PaidFen {
			t.Errorf("refunds add up to %d, want %d (paid)", total, o.PaidFen)
		}
		if got := e.refundedAtPlatform("wechat", o.OutTradeNo); got != o.PaidFen {
			t.Errorf("the platform refunded %d, want %d", got, o.PaidFen)
		}
		for _, sku := range skus {
			if s := e.stock(sku); s != 10 {
				t.Errorf("stock of sku %d = %d, want 10 (back once)", sku, s)
			}
		}
		if n := e.count("SELECT COUNT(*) FROM aftersale_events WHERE to_status = 'approved'"); n != 3 {
			t.Errorf("%d approval history rows, want 3", n)
		}

		// Concurrent customer requests for one line.
		sku := e.product(2000, 10, 1)[0]
		o2 := e.paidOrder(c, [2]int64{sku, 3})
		line := o2.Items[0].ID
		wg = sync.WaitGroup{}
		created := make([]int, 20)
		for i := range 20 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				created[i], _ = e.do(c.token, http.MethodPost, "/api/v1/aftersales", map[string]any{
					"order_id": o2.ID, "type": "refund_only", "reason": "no_longer_needed",
					"items": []map[string]int64{{"order_item_id": line, "quantity": int64(1 + i%3)}},
				})
			}()
		}
		wg.Wait()
		n := 0
		for _, st := range created {
			switch st {
			case http.StatusCreated:
				n++
			case http.StatusConflict:
			default:
				t.Errorf("request answered %d", st)
			}
		}
		if n != 1 {
			t.Errorf("%d requests of one line opened, want 1", n)
		}
		var taken int64
		must(t, e.d.Reader(context.Background()).Raw("SELECT aftersale_quantity FROM order_items WHERE id = ?", line).Scan(&taken).Error)
		if got := e.count("SELECT COALESCE(SUM(quantity), 0) FROM aftersale_items WHERE order_item_id = ?", line); got != taken || taken > 3 {
			t.Errorf("line counter %d, request units %d (quantity 3)", taken, got)
		}
	})
}
