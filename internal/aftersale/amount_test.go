package aftersale

import (
	"slices"
	"testing"
)

func TestShares(t *testing.T) {
	tests := []struct {
		name      string
		goodsPaid int64
		subtotals []int64
		want      []int64
	}{
		{"paid in full: the subtotals", 6499, []int64{3000, 2500, 999}, []int64{3000, 2500, 999}},
		{"rounded down, remainder to the last line", 1000, []int64{1, 1, 1}, []int64{333, 333, 334}},
		{"proportional to the subtotals", 9000, []int64{5000, 3000, 2000}, []int64{4500, 2700, 1800}},
		{"a discount spread with rounding", 9999, []int64{3333, 3333, 3334, 1}, []int64{3332, 3332, 3333, 2}},
		{"one line takes everything", 777, []int64{500}, []int64{777}},
		{"amounts past 64-bit products", 9_000_000_000_000, []int64{3_000_000_000_000, 6_000_000_000_001},
			[]int64{2_999_999_999_999, 6_000_000_000_001}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Shares(tt.goodsPaid, tt.subtotals)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(got, tt.want) {
				t.Fatalf("Shares(%d, %v) = %v, want %v", tt.goodsPaid, tt.subtotals, got, tt.want)
			}
			var sum int64
			for _, s := range got {
				sum += s
			}
			if sum != tt.goodsPaid {
				t.Fatalf("shares add up to %d, want %d", sum, tt.goodsPaid)
			}
		})
	}
}

func TestUnitsAmount(t *testing.T) {
	tests := []struct {
		name                           string
		share, qty, takenQty, takenFen int64
		q                              int64
		want                           int64
	}{
		{"first of three units, rounded down", 1000, 3, 0, 0, 1, 333},
		{"second of three", 1000, 3, 1, 333, 1, 333},
		{"the last unit takes the rest", 1000, 3, 2, 666, 1, 334},
		{"two units at once", 1000, 3, 0, 0, 2, 666},
		{"the last two units after one", 1000, 3, 1, 333, 2, 667},
		{"the whole line", 1000, 3, 0, 0, 3, 1000},
		{"the last unit after an exchange of one", 1000, 3, 2, 666, 1, 334},
		{"exact unit price", 9999, 3, 0, 0, 1, 3333},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := UnitsAmount(tt.share, tt.qty, tt.takenQty, tt.takenFen, tt.q)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Fatalf("UnitsAmount = %d, want %d", got, tt.want)
			}
		})
	}
	for _, bad := range [][5]int64{{1000, 3, 2, 666, 2}, {1000, 3, 0, 0, 0}, {1000, 0, 0, 0, 1}, {1000, 3, 1, 1001, 1}} {
		if _, err := UnitsAmount(bad[0], bad[1], bad[2], bad[3], bad[4]); err == nil {
			t.Errorf("UnitsAmount%v: no error", bad)
		}
	}
}

// TestComputeWorkedExample follows the example of docs/aftersales.md: an
// order whose lines are refunded in several partial requests refunds
// exactly its paid amount, freight with the request that leaves nothing to
// ship; the same requests after shipping refund the paid amount minus the
// freight.
func TestComputeWorkedExample(t *testing.T) {
	// A 3 × 33.33, B 2 × 12.50, C 1 × 9.99, freight 10.00, paid in full;
	// and the same order paid 10.00 less (a discount spread over the lines).
	for _, paid := range []int64{9999 + 2500 + 999 + 1000, 9999 + 2500 + 999 + 1000 - 1000} {
		for _, shipped := range []bool{false, true} {
			lines := []AmountLine{
				{ItemID: 1, SubtotalFen: 9999, Quantity: 3},
				{ItemID: 2, SubtotalFen: 2500, Quantity: 2},
				{ItemID: 3, SubtotalFen: 999, Quantity: 1},
			}
			requests := [][]Want{
				{{ItemID: 1, Quantity: 1}},
				{{ItemID: 2, Quantity: 1}, {ItemID: 1, Quantity: 1}},
				{{ItemID: 3, Quantity: 1}},
				{{ItemID: 1, Quantity: 1}},
				{{ItemID: 2, Quantity: 1}},
			}
			const freight = 1000
			var total int64
			withheld := make([]int64, len(lines))
			for i, want := range requests {
				shares, goods, err := Compute(paid, freight, lines, want)
				if err != nil {
					t.Fatal(err)
				}
				var units int64
				for _, s := range shares {
					units += s.Quantity
				}
				qty := []int64{3, 2, 1}
				refund := goods
				if !shipped && LeavesNothingToShip(qty, withheld, units) {
					refund += freight
					if i != len(requests)-1 {
						t.Fatalf("request %d carries the freight before the last", i)
					}
				}
				for _, s := range shares {
					for k := range lines {
						if lines[k].ItemID == s.ItemID {
							lines[k].TakenQuantity += s.Quantity
							lines[k].TakenFen += s.ShareFen
							withheld[k] += s.Quantity
						}
					}
				}
				total += refund
			}
			want := paid
			if shipped {
				want = paid - freight
			}
			if total != want {
				t.Errorf("paid %d, shipped %v: refunds add up to %d, want %d", paid, shipped, total, want)
			}
		}
	}
}

func TestComputeAmountsOfTheDocExample(t *testing.T) {
	lines := []AmountLine{
		{ItemID: 1, SubtotalFen: 9999, Quantity: 3},
		{ItemID: 2, SubtotalFen: 2500, Quantity: 2},
		{ItemID: 3, SubtotalFen: 999, Quantity: 1},
	}
	// Paid 124.98 for 134.98 of goods and freight: 114.98 for goods.
	got, goods, err := Compute(12498, 1000, lines, []Want{{ItemID: 1, Quantity: 1}})
	if err != nil {
		t.Fatal(err)
	}
	// Shares: 11498 × 9999 / 13498 = 8517 (rounded down), 11498 × 2500 /
	// 13498 = 2129, and 11498 − 8517 − 2129 = 852 for the last line; one of
	// three units of the first line: 8517 / 3 = 2839.
	if goods != 2839 || got[0].ShareFen != 2839 {
		t.Fatalf("one unit of line 1 refunds %d (%v), want 2839", goods, got)
	}
}
