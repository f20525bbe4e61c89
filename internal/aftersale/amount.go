package aftersale

import (
	"errors"
	"math/big"
)

// The refund arithmetic, apart from everything else so that it is proven by
// table tests alone. All amounts are fen.
//
//   - A line's share is its part of what was paid for goods (paid_fen minus
//     freight) in proportion to its subtotal, rounded down; the last line
//     takes the remainder so that the shares add up exactly.
//   - q units of a line refund floor(share × q / quantity), except the
//     request that takes the line's last units, which refunds whatever is
//     left of the share after the earlier requests of the line, so a line
//     refunded in several requests refunds exactly its share.
//   - Freight is added by the refund that leaves nothing of the order to ship
//     (every unit refunded before shipping), never once anything shipped.

// AmountLine is an order line as the arithmetic sees it.
type AmountLine struct {
	ItemID      int64
	SubtotalFen int64
	Quantity    int64
	// TakenQuantity and TakenFen are the units and computed shares earlier
	// requests of the line hold (not rejected or cancelled).
	TakenQuantity int64
	TakenFen      int64
}

// Want is a requested number of units of a line.
type Want struct {
	ItemID   int64
	Quantity int64
}

// LineAmount is the computed share of one requested line.
type LineAmount struct {
	ItemID   int64
	Quantity int64
	ShareFen int64
}

// errAmount reports input the arithmetic cannot serve; callers validate
// first, so it means a bug.
var errAmount = errors.New("aftersale: inconsistent amount input")

// Shares spreads goodsPaidFen over lines in proportion to their subtotals:
// each share rounded down, the last line taking the remainder.
func Shares(goodsPaidFen int64, subtotals []int64) ([]int64, error) {
	var total int64
	for _, s := range subtotals {
		if s < 0 {
			return nil, errAmount
		}
		total += s
	}
	if goodsPaidFen < 0 || len(subtotals) == 0 {
		return nil, errAmount
	}
	out := make([]int64, len(subtotals))
	var given int64
	for i, s := range subtotals {
		if i == len(subtotals)-1 {
			out[i] = goodsPaidFen - given
			break
		}
		if total > 0 {
			// goodsPaid × subtotal may not fit in 64 bits.
			p := new(big.Int).Mul(big.NewInt(goodsPaidFen), big.NewInt(s))
			out[i] = p.Quo(p, big.NewInt(total)).Int64()
		}
		given += out[i]
	}
	return out, nil
}

// UnitsAmount is what q units of a line with share shareFen and quantity
// units refund, when earlier requests of the line took takenQty units and
// takenFen of the share.
func UnitsAmount(shareFen, quantity, takenQty, takenFen, q int64) (int64, error) {
	if quantity <= 0 || q <= 0 || takenQty < 0 || takenQty+q > quantity || takenFen < 0 || takenFen > shareFen {
		return 0, errAmount
	}
	if takenQty+q == quantity {
		return shareFen - takenFen, nil
	}
	p := new(big.Int).Mul(big.NewInt(shareFen), big.NewInt(q))
	return p.Quo(p, big.NewInt(quantity)).Int64(), nil
}

// Compute returns the shares of the wanted units of an order that paid
// paidFen with freightFen of freight, and their goods total. The wanted
// lines must be lines of the order.
func Compute(paidFen, freightFen int64, lines []AmountLine, want []Want) ([]LineAmount, int64, error) {
	if freightFen < 0 || freightFen > paidFen {
		return nil, 0, errAmount
	}
	subtotals := make([]int64, len(lines))
	for i, l := range lines {
		subtotals[i] = l.SubtotalFen
	}
	shares, err := Shares(paidFen-freightFen, subtotals)
	if err != nil {
		return nil, 0, err
	}
	out := make([]LineAmount, 0, len(want))
	var goods int64
	for _, w := range want {
		i := -1
		for k, l := range lines {
			if l.ItemID == w.ItemID {
				i = k
				break
			}
		}
		if i < 0 {
			return nil, 0, errAmount
		}
		l := lines[i]
		fen, err := UnitsAmount(shares[i], l.Quantity, l.TakenQuantity, l.TakenFen, w.Quantity)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, LineAmount{ItemID: w.ItemID, Quantity: w.Quantity, ShareFen: fen})
		goods += fen
	}
	return out, goods, nil
}

// LeavesNothingToShip reports whether refunding wanted units before
// shipping, on top of the units already withheld, leaves no unit of the
// order to ship: that refund carries the freight.
func LeavesNothingToShip(quantities, withheld []int64, wantedUnits int64) bool {
	var left int64
	for i, q := range quantities {
		left += q - withheld[i]
	}
	return wantedUnits == left
}
