package order

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/big"
	"slices"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/text"
)

// Checkout limits.
const (
	// MaxQuantity is the most units of one SKU in one order.
	MaxQuantity = 999
	// MaxLines is the most distinct SKUs in one order.
	MaxLines = 50
	// MaxRemarkLen is the longest remark, in characters.
	MaxRemarkLen = 200
	// MaxIdempotencyKeyLen is the longest Idempotency-Key.
	MaxIdempotencyKeyLen = 64
)

// LineInput is one requested line: a SKU and a quantity.
type LineInput struct {
	SKUID    int64
	Quantity int64
}

// CheckoutInput is a checkout or preview request. Exactly one of Items and
// FromCart is used. AddressID is required by checkout and optional for a
// preview. IdempotencyKey is optional and only checkout reads it.
type CheckoutInput struct {
	CustomerID     int64
	AddressID      int64
	Items          []LineInput
	FromCart       bool
	Remark         string
	IdempotencyKey string
}

// validate checks the request shape and normalises it: the remark trimmed,
// explicit lines merged by SKU (quantities added up) and sorted by SKU id.
// Merging is the documented rule for a SKU that appears twice.
func (in *CheckoutInput) validate(needAddress bool) error {
	if in.CustomerID <= 0 {
		return apperr.Unauthenticated("no customer")
	}
	if in.AddressID < 0 || needAddress && in.AddressID == 0 {
		return apperr.Invalid("address_id must be the id of one of your addresses", "address_id")
	}
	remark, err := text.Block("remark", in.Remark, 0, MaxRemarkLen)
	if err != nil {
		return err
	}
	in.Remark = remark
	if in.IdempotencyKey != "" && !validIdempotencyKey(in.IdempotencyKey) {
		return apperr.Invalid(fmt.Sprintf("Idempotency-Key must be 1 to %d letters, digits, '-', '_', ':' or '.'", MaxIdempotencyKeyLen), "Idempotency-Key")
	}
	switch {
	case in.FromCart && len(in.Items) > 0:
		return apperr.Invalid("give either items or from_cart, not both", "items", "from_cart")
	case in.FromCart:
		return nil
	case len(in.Items) == 0:
		return apperr.Invalid("items must hold at least one line (or set from_cart)", "items")
	}
	lines, err := mergeLines(in.Items, "items")
	if err != nil {
		return err
	}
	in.Items = lines
	return nil
}

// mergeLines checks each line, adds up the quantities of repeated SKUs and
// sorts the result by SKU id. field names the request field in errors.
func mergeLines(lines []LineInput, field string) ([]LineInput, error) {
	byID := make(map[int64]int64, len(lines))
	for i, l := range lines {
		f := fmt.Sprintf("%s[%d]", field, i)
		if l.SKUID <= 0 {
			return nil, apperr.Invalid(f+".sku_id must be a positive integer", f+".sku_id")
		}
		if l.Quantity <= 0 {
			return nil, apperr.Invalid(f+".quantity must be at least 1", f+".quantity")
		}
		if l.Quantity > MaxQuantity {
			return nil, quantityCap(l.SKUID)
		}
		byID[l.SKUID] += l.Quantity
		if byID[l.SKUID] > MaxQuantity {
			return nil, quantityCap(l.SKUID)
		}
	}
	if len(byID) > MaxLines {
		return nil, apperr.New(apperr.CodeLimitExceeded, "an order holds at most %d different items", MaxLines).
			WithDetail("limit", MaxLines)
	}
	out := make([]LineInput, 0, len(byID))
	for id, q := range byID {
		out = append(out, LineInput{SKUID: id, Quantity: q})
	}
	slices.SortFunc(out, func(a, b LineInput) int { return compareInt64(a.SKUID, b.SKUID) })
	return out, nil
}

func quantityCap(skuID int64) error {
	return apperr.New(apperr.CodeLimitExceeded, "at most %d units of one item per order", MaxQuantity).
		WithDetail("limit", MaxQuantity).WithDetail("sku_ids", []int64{skuID})
}

func compareInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func validIdempotencyKey(k string) bool {
	if len(k) == 0 || len(k) > MaxIdempotencyKeyLen {
		return false
	}
	for _, r := range k {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == ':' || r == '.') {
			return false
		}
	}
	return true
}

// requestHash is the fingerprint of a normalised checkout request, stored
// with its Idempotency-Key: a replay with the same key must carry the same
// request. A cart checkout is fingerprinted by its flag, not by the cart's
// contents, which the first request emptied.
func (in *CheckoutInput) requestHash() string {
	type line struct {
		SKU int64 `json:"s"`
		Qty int64 `json:"q"`
	}
	v := struct {
		Address  int64  `json:"a"`
		FromCart bool   `json:"c"`
		Lines    []line `json:"l"`
		Remark   string `json:"r"`
	}{Address: in.AddressID, FromCart: in.FromCart, Remark: in.Remark}
	for _, l := range in.Items {
		v.Lines = append(v.Lines, line{SKU: l.SKUID, Qty: l.Quantity})
	}
	b, _ := json.Marshal(v)
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// Pricing is the freight rule: a flat freight, free from a goods total on
// (FreeOverFen 0 disables the threshold).
type Pricing struct {
	FreightFen  int64
	FreeOverFen int64
}

// Freight returns the freight of an order whose goods cost goodsFen.
func (p Pricing) Freight(goodsFen int64) int64 {
	if p.FreeOverFen > 0 && goodsFen >= p.FreeOverFen {
		return 0
	}
	return p.FreightFen
}

// beijing is China Standard Time, fixed at UTC+8 (China keeps no daylight
// saving), so order numbers need no time zone database.
var beijing = time.FixedZone("CST", 8*60*60)

// newOrderNo makes an order number: the Beijing time of checkout as
// yymmddHHMMSS followed by 8 random digits, 20 characters in all. Numbers
// sort roughly by time but cannot be guessed from one another; the unique
// index catches the rare collision and checkout retries with a new number.
func newOrderNo(now time.Time) (string, error) {
	n, err := rand.Int(rand.Reader, big.NewInt(100_000_000))
	if err != nil {
		return "", err
	}
	return now.In(beijing).Format("060102150405") + fmt.Sprintf("%08d", n.Int64()), nil
}
