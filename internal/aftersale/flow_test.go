package aftersale_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/sandbox"
)

var channels = []string{"wechat", "alipay"}

// threeLines is the order of docs/aftersales.md: A 3 × 33.33, B 2 × 12.50,
// C 1 × 9.99 and 10.00 freight.
func (e *env) threeLines(c customer) (orderJSON, []int64) {
	a := e.product(3333, 10, 1)[0]
	b := e.product(1250, 10, 1)[0]
	cc := e.product(999, 10, 1)[0]
	o := e.paidOrder(c, [2]int64{a, 3}, [2]int64{b, 2}, [2]int64{cc, 1})
	if o.PaidFen != 9999+2500+999+freightFen {
		e.t.Fatalf("paid %d", o.PaidFen)
	}
	return o, []int64{a, b, cc}
}

// item returns the order line of a SKU.
func item(o orderJSON, skuID int64) int64 {
	for _, it := range o.Items {
		if it.SKUID == skuID {
			return it.ID
		}
	}
	panic("no line")
}

// TestLineByLineRefundsAddUpToWhatWasPaid is the per-line shares
// case on both channels: several partial refund-only requests of a
// three-line order refund exactly paid_fen before shipping (freight with
// the last, stock back, order closed) and paid_fen minus freight after
// shipping (no stock back).
func TestLineByLineRefundsAddUpToWhatWasPaid(t *testing.T) {
	for _, ch := range channels {
		for _, shipped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s/shipped=%v", ch, shipped), func(t *testing.T) {
				each(t, func(t *testing.T, e *env) {
					c := e.login("alice", ch)
					o, skus := e.threeLines(c)
					if shipped {
						e.ship(o.ID)
					}
					a, b, cc := item(o, skus[0]), item(o, skus[1]), item(o, skus[2])
					steps := [][][3]int64{{{a, 1, 0}}, {{b, 1, 0}, {a, 1, 0}}, {{cc, 1, 0}}, {{a, 1, 0}}, {{b, 1, 0}}}
					wantRefunds := []int64{3333, 1250 + 3333, 999, 3333, 1250}
					if !shipped {
						wantRefunds[4] += freightFen
					}
					var total int64
					for i, lines := range steps {
						r := e.ask(c, o.ID, "refund_only", http.StatusCreated, lines...)
						r = e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
						if r.RefundFen != wantRefunds[i] {
							t.Fatalf("request %d refunds %d, want %d", i, r.RefundFen, wantRefunds[i])
						}
						r = e.request(c, r.ID)
						if r.Status != "refunded" {
							t.Fatalf("request %d is %s (%s: %s)", i, r.Status, r.RefundStatus, r.RefundDetail)
						}
						total += r.RefundFen
					}
					want := o.PaidFen
					if shipped {
						want -= freightFen
					}
					if total != want {
						t.Errorf("refunds add up to %d, want %d", total, want)
					}
					if got := e.refundedAtPlatform(ch, o.OutTradeNo); got != want {
						t.Errorf("the platform refunded %d, want %d", got, want)
					}
					after := e.order(c, o.ID)
					if after.Status != "closed" || after.RefundedFen != want {
						t.Errorf("order is %s with %d refunded, want closed with %d", after.Status, after.RefundedFen, want)
					}
					for _, it := range after.Items {
						if it.RefundedQuantity != it.Quantity || it.AfterSaleOpen {
							t.Errorf("line %d: refunded %d of %d, open %v", it.ID, it.RefundedQuantity, it.Quantity, it.AfterSaleOpen)
						}
					}
					wantStock := int64(10)
					if shipped {
						wantStock = 10 - 3
					}
					if got := e.stock(skus[0]); got != wantStock {
						t.Errorf("stock of A = %d, want %d", got, wantStock)
					}
					if !shipped {
						// A closed order never ships.
						st, raw := e.do(e.owner, http.MethodPost, fmt.Sprintf("/api/v1/admin/orders/%d/ship", o.ID),
							map[string]string{"carrier": "SF", "tracking_no": "SF1234567890"})
						if st != http.StatusConflict || errCode(raw) != "invalid_state" {
							t.Errorf("ship of a fully refunded order = %d %s", st, raw)
						}
					}
				})
			})
		}
	}
}

// TestShipRefusesUndecidedRequestsAndShipsTheRest: a paid order with a
// refund request waiting for staff cannot ship; once approved, the rest
// ships and the refunded units are back in stock.
func TestShipRefusesUndecidedRequestsAndShipsTheRest(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login("alice", "wechat")
		o, skus := e.threeLines(c)
		r := e.ask(c, o.ID, "refund_only", http.StatusCreated, [3]int64{item(o, skus[0]), 2, 0})
		st, raw := e.do(e.owner, http.MethodPost, fmt.Sprintf("/api/v1/admin/orders/%d/ship", o.ID),
			map[string]string{"carrier": "SF", "tracking_no": "SF1234567890"})
		if st != http.StatusConflict || errCode(raw) != "invalid_state" {
			t.Fatalf("ship with an undecided request = %d %s", st, raw)
		}
		e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
		e.ship(o.ID)
		got := e.order(c, o.ID)
		if got.Status != "shipped" || got.Items[0].RefundedQuantity != 2 {
			t.Fatalf("order %s, line A refunded %d", got.Status, got.Items[0].RefundedQuantity)
		}
		if s := e.stock(skus[0]); s != 10-3+2 {
			t.Errorf("stock of A = %d, want 9", s)
		}
	})
}

// TestReturnRefundFlow: approval, return parcel, receipt (stock back),
// refund settled by the platform's refund notification (WeChat Pay) or at
// once (Alipay), on both channels.
func TestReturnRefundFlow(t *testing.T) {
	for _, ch := range channels {
		t.Run(ch, func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				c := e.login("alice", ch)
				sku := e.product(5000, 5, 1)[0]
				o := e.paidOrder(c, [2]int64{sku, 2})
				e.ship(o.ID)
				r := e.ask(c, o.ID, "return_refund", http.StatusCreated, [3]int64{o.Items[0].ID, 1, 0})
				if r.RefundFen != 5000 || r.Status != "requested" {
					t.Fatalf("request %+v", r)
				}
				r = e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
				if r.Status != "awaiting_return" {
					t.Fatalf("approved request is %s", r.Status)
				}
				e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/aftersales/%d/return-shipment", r.ID),
					map[string]string{"carrier": "XX", "tracking_no": "YT1234567890"}, http.StatusBadRequest, nil)
				e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/aftersales/%d/return-shipment", r.ID),
					map[string]string{"carrier": "yto", "tracking_no": "yt1234567890"}, http.StatusOK, nil)
				// The return parcel is tracked by the logistics module.
				if n := e.count("SELECT COUNT(*) FROM parcels WHERE kind = 'return' AND ref_id = ? AND tracking_no = 'YT1234567890'", r.ID); n != 1 {
					t.Errorf("%d tracked return parcels, want 1", n)
				}
				if ch == "wechat" {
					e.sb.SetWeChatPayRefunds(sandbox.WeChatPayRefundOptions{Outcome: sandbox.WeChatPayRefundProcessing})
				}
				r = e.staffAct(e.owner, r.ID, "receive-return", map[string]any{"accept": true}, http.StatusOK)
				if s := e.stock(sku); s != 5-2+1 {
					t.Errorf("stock = %d after the return, want 4", s)
				}
				if ch == "wechat" {
					if r.Status != "refunding" {
						t.Fatalf("request is %s while the platform processes the refund", r.Status)
					}
					ack := e.sb.WeChatRefundAcknowledged(r.OutRefundNo)
					if _, err := e.sb.CompleteWeChatRefund(r.OutRefundNo, sandbox.WeChatPayRefundSuccess); err != nil {
						t.Fatal(err)
					}
					<-ack
					// The notification settled the payment refund; the
					// after-sales job sees it at its next check.
					e.clk.Advance(time.Minute)
					if _, err := e.app.AfterSales().SettleRefunds(context.Background(), 100); err != nil {
						t.Fatal(err)
					}
				}
				r = e.request(c, r.ID)
				if r.Status != "refunded" || r.RefundStatus != "succeeded" {
					t.Fatalf("request is %s (%s)", r.Status, r.RefundStatus)
				}
				if got := e.refundedAtPlatform(ch, o.OutTradeNo); got != 5000 {
					t.Errorf("platform refunded %d", got)
				}
				// Receiving again changes nothing: stock comes back once.
				e.staffAct(e.owner, r.ID, "receive-return", map[string]any{"accept": true}, http.StatusConflict)
				if s := e.stock(sku); s != 4 {
					t.Errorf("stock = %d, want 4", s)
				}
				if got := e.order(c, o.ID); got.Status != "shipped" || got.RefundedFen != 5000 {
					t.Errorf("order %s refunded %d", got.Status, got.RefundedFen)
				}
			})
		})
	}
}

// TestExchangeFlow: the replacement's stock is taken on approval once, the
// returned unit comes back on receipt, the replacement ships, no money
// moves.
func TestExchangeFlow(t *testing.T) {
	for _, ch := range channels {
		t.Run(ch, func(t *testing.T) {
			each(t, func(t *testing.T, e *env) {
				c := e.login("alice", ch)
				skus := e.product(4000, 3, 2)
				other := e.product(4000, 3, 1)[0]
				o := e.paidOrder(c, [2]int64{skus[0], 1})
				e.ship(o.ID)
				line := o.Items[0].ID
				e.ask(c, o.ID, "exchange", http.StatusBadRequest, [3]int64{line, 1, other})
				r := e.ask(c, o.ID, "exchange", http.StatusCreated, [3]int64{line, 1, skus[1]})
				if r.RefundFen != 0 {
					t.Fatalf("an exchange refunds %d", r.RefundFen)
				}
				e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
				e.staffAct(e.owner, r.ID, "approve", nil, http.StatusConflict)
				if s := e.stock(skus[1]); s != 2 {
					t.Errorf("replacement stock = %d, want 2", s)
				}
				e.call(c.token, http.MethodPost, fmt.Sprintf("/api/v1/aftersales/%d/return-shipment", r.ID),
					map[string]string{"carrier": "SF", "tracking_no": "SF0000000001"}, http.StatusOK, nil)
				e.staffAct(e.owner, r.ID, "receive-return", map[string]any{"accept": true}, http.StatusOK)
				if s := e.stock(skus[0]); s != 3 {
					t.Errorf("returned SKU stock = %d, want 3", s)
				}
				r = e.staffAct(e.owner, r.ID, "ship-replacement", map[string]string{"carrier": "ZTO", "tracking_no": "ZT0000000002"}, http.StatusOK)
				if r.Status != "completed" {
					t.Fatalf("exchange is %s", r.Status)
				}
				if s := e.stock(skus[1]); s != 2 {
					t.Errorf("replacement stock = %d, want 2 (taken once)", s)
				}
				if got := e.refundedAtPlatform(ch, o.OutTradeNo); got != 0 {
					t.Errorf("an exchange refunded %d", got)
				}
				got := e.order(c, o.ID)
				if got.Items[0].AfterSaleOpen || got.Items[0].RefundedQuantity != 0 {
					t.Errorf("line after the exchange: %+v", got.Items[0])
				}
				// The exchanged unit is taken: nothing of the line is left.
				raw := e.call(c.token, http.MethodPost, "/api/v1/aftersales", map[string]any{"order_id": o.ID, "type": "return_refund",
					"items": []map[string]int64{{"order_item_id": line, "quantity": 1}}, "reason": "damaged"}, http.StatusConflict, nil)
				if errCode(raw) != "limit_exceeded" {
					t.Errorf("request on a fully taken line: %s", raw)
				}
			})
		})
	}
}

// Stock moved by after-sales shows on the public product page within the
// catalog's stock lag, as stock moved by checkout and cancels does, instead
// of waiting for the page's safety TTL.
func TestAfterSaleStockShowsOnProductPages(t *testing.T) {
	each(t, func(t *testing.T, e *env) {
		c := e.login("alice", "alipay")
		skus := e.product(4000, 3, 2)
		product := e.count("SELECT product_id FROM skus WHERE id = ?", skus[0])
		page := func() map[int64]int64 {
			var p struct {
				SKUs []struct {
					ID    int64 `json:"id"`
					Stock int64 `json:"stock"`
				} `json:"skus"`
			}
			e.call("", http.MethodGet, fmt.Sprintf("/api/v1/products/%d", product), nil, http.StatusOK, &p)
			out := map[int64]int64{}
			for _, k := range p.SKUs {
				out[k.ID] = k.Stock
			}
			return out
		}
		lag := catalog.DefaultStockLag + time.Millisecond

		// Refund before shipping: the unit is back in stock.
		o := e.paidOrder(c, [2]int64{skus[0], 1})
		e.clk.Advance(lag)
		if s := page()[skus[0]]; s != 2 {
			t.Fatalf("page after the sale shows stock %d, want 2", s)
		}
		r := e.ask(c, o.ID, "refund_only", http.StatusCreated, [3]int64{o.Items[0].ID, 1, 0})
		e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
		e.clk.Advance(lag)
		if s := page()[skus[0]]; s != 3 {
			t.Errorf("page after the refund before shipping shows stock %d, want 3", s)
		}

		// Exchange: the replacement is taken on approval.
		o = e.paidOrder(c, [2]int64{skus[0], 1})
		e.ship(o.ID)
		e.clk.Advance(lag)
		if s := page()[skus[1]]; s != 3 {
			t.Fatalf("replacement stock on the page = %d, want 3", s)
		}
		r = e.ask(c, o.ID, "exchange", http.StatusCreated, [3]int64{o.Items[0].ID, 1, skus[1]})
		e.staffAct(e.owner, r.ID, "approve", nil, http.StatusOK)
		e.clk.Advance(lag)
		if s := page()[skus[1]]; s != 2 {
			t.Errorf("page after the exchange's approval shows replacement stock %d, want 2", s)
		}
	})
}
