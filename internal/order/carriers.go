package order

import (
	"errors"
	"fmt"
	"strings"
)

// Carrier is a courier company staff can ship with. Code is minimall's own
// code (API.md's carrier table); the logistics module maps it to the courier
// API's and WeChat's codes.
type Carrier struct {
	Code string
	Name string
}

// DefaultCarriers is the carrier table of the API contract. It is the one
// place the list lives; the logistics module may hand the Service a longer
// list built from its configuration.
func DefaultCarriers() []Carrier {
	return []Carrier{
		{Code: "SF", Name: "顺丰"},
		{Code: "ZTO", Name: "中通"},
		{Code: "YTO", Name: "圆通"},
		{Code: "YD", Name: "韵达"},
		{Code: "STO", Name: "申通"},
		{Code: "JT", Name: "极兔"},
		{Code: "JD", Name: "京东"},
		{Code: "EMS", Name: "EMS"},
	}
}

// Carriers is a validated set of carriers, looked up by code.
type Carriers struct {
	list   []Carrier
	byCode map[string]Carrier
}

// NewCarriers checks list (codes of 1 to 16 upper-case letters and digits,
// no repeats, at least one carrier) and indexes it.
func NewCarriers(list []Carrier) (*Carriers, error) {
	if len(list) == 0 {
		return nil, errors.New("order: no carriers")
	}
	c := &Carriers{list: append([]Carrier(nil), list...), byCode: make(map[string]Carrier, len(list))}
	for _, k := range list {
		if len(k.Code) == 0 || len(k.Code) > 16 || strings.Trim(k.Code, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") != "" {
			return nil, fmt.Errorf("order: carrier code %q must be 1 to 16 upper-case letters or digits", k.Code)
		}
		if _, dup := c.byCode[k.Code]; dup {
			return nil, fmt.Errorf("order: carrier code %q repeats", k.Code)
		}
		c.byCode[k.Code] = k
	}
	return c, nil
}

// Lookup returns the carrier of code.
func (c *Carriers) Lookup(code string) (Carrier, bool) {
	k, ok := c.byCode[code]
	return k, ok
}

// Codes returns the carrier codes in table order.
func (c *Carriers) Codes() []string {
	out := make([]string, len(c.list))
	for i, k := range c.list {
		out[i] = k.Code
	}
	return out
}
