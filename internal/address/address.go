// Package address owns customers' shipping addresses (the address book):
// at most MaxPerCustomer each, exactly one default among them.
package address

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/text"
)

// Limits of a customer's addresses.
const (
	MaxPerCustomer = 20
	MaxNameLen     = 20
	MaxRegionLen   = 32
	MaxDetailLen   = 120
)

// Address is a customer's shipping address. A customer with addresses has
// exactly one default.
type Address struct {
	ID         int64
	CustomerID int64
	Name       string
	Phone      string
	Province   string
	City       string
	District   string
	Detail     string
	IsDefault  bool
	CreatedAt  time.Time
	UpdatedAt  time.Time
}

// Input is an address as a customer writes it.
type Input struct {
	Name      string
	Phone     string
	Province  string
	City      string
	District  string
	Detail    string
	IsDefault bool
}

// NormalizeMobile strips spaces, dashes and a +86/86 prefix from a mainland
// mobile number and reports whether what is left is one: 11 digits starting
// with 1 and a second digit from 3 to 9.
func NormalizeMobile(s string) (string, bool) {
	s = strings.NewReplacer(" ", "", "-", "").Replace(strings.TrimSpace(s))
	if len(s) == 14 && strings.HasPrefix(s, "+86") {
		s = s[3:]
	} else if len(s) == 13 && strings.HasPrefix(s, "86") {
		s = s[2:]
	}
	if len(s) != 11 || s[0] != '1' || s[1] < '3' || s[1] > '9' {
		return "", false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", false
		}
	}
	return s, true
}

func (in *Input) validate() error {
	type field struct {
		name string
		v    *string
		max  int
	}
	for _, f := range []field{
		{"name", &in.Name, MaxNameLen},
		{"province", &in.Province, MaxRegionLen},
		{"city", &in.City, MaxRegionLen},
		{"district", &in.District, MaxRegionLen},
		{"detail", &in.Detail, MaxDetailLen},
	} {
		v, err := text.Line(f.name, *f.v, 1, f.max)
		if err != nil {
			return err
		}
		*f.v = v
	}
	phone, ok := NormalizeMobile(in.Phone)
	if !ok {
		return apperr.Invalid("phone must be a mainland China mobile number", "phone")
	}
	in.Phone = phone
	return nil
}

// Service keeps customers' addresses.
type Service struct {
	db    *db.DB
	store *Store
	clock clock.Clock
}

// NewService returns the address service.
func NewService(d *db.DB, store *Store, clk clock.Clock) (*Service, error) {
	if d == nil || store == nil || clk == nil {
		return nil, errors.New("address: nil dependency")
	}
	return &Service{db: d, store: store, clock: clk}, nil
}

// tx runs fn in a transaction that first takes the customer's address row
// locks, so one customer's address writes run one after another. A customer
// without addresses has no rows to lock: two first addresses can then race
// for the one-default unique index, or MySQL picks one as a deadlock victim,
// and the loser runs again (TxRetry) behind the winner's row.
func (s *Service) tx(ctx context.Context, customerID int64, fn func(ctx context.Context) error) error {
	err := s.db.TxRetry(ctx, func(ctx context.Context) error {
		if err := s.store.lockCustomer(ctx, customerID); err != nil {
			return err
		}
		return db.LostRace(fn(ctx))
	})
	return apperr.From(err)
}

// List returns the customer's addresses, the default first, then newest first.
func (s *Service) List(ctx context.Context, customerID int64) ([]Address, error) {
	out, err := s.store.list(ctx, customerID)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}

// Get returns one of the customer's addresses; another customer's address is
// not found. Checkout snapshots it.
func (s *Service) Get(ctx context.Context, customerID, id int64) (Address, error) {
	a, found, err := s.store.get(ctx, customerID, id)
	if err != nil {
		return Address{}, apperr.Internal(err)
	}
	if !found {
		return Address{}, apperr.NotFound("address")
	}
	return a, nil
}

// Create adds an address. The first address is the default whatever the
// input says; a new default replaces the old one in the same transaction.
func (s *Service) Create(ctx context.Context, customerID int64, in Input) (Address, error) {
	if err := in.validate(); err != nil {
		return Address{}, err
	}
	var out Address
	err := s.tx(ctx, customerID, func(ctx context.Context) error {
		n, err := s.store.count(ctx, customerID)
		if err != nil {
			return err
		}
		if n >= MaxPerCustomer {
			return apperr.New(apperr.CodeLimitExceeded, "at most %d addresses", MaxPerCustomer).WithDetail("max", MaxPerCustomer)
		}
		now := s.clock.Now()
		a := Address{CustomerID: customerID, Name: in.Name, Phone: in.Phone, Province: in.Province, City: in.City,
			District: in.District, Detail: in.Detail, IsDefault: in.IsDefault || n == 0, CreatedAt: now, UpdatedAt: now}
		if a.IsDefault {
			if err := s.store.clearDefault(ctx, customerID, now); err != nil {
				return err
			}
		}
		if err := s.store.insert(ctx, &a); err != nil {
			return err
		}
		out = a
		return nil
	})
	return out, err
}

// Update replaces an address. is_default true makes it the default; false
// on the current default leaves it the default (a customer with addresses
// always has one: choose another address as default instead).
func (s *Service) Update(ctx context.Context, customerID, id int64, in Input) (Address, error) {
	if err := in.validate(); err != nil {
		return Address{}, err
	}
	var out Address
	err := s.tx(ctx, customerID, func(ctx context.Context) error {
		a, found, err := s.store.get(ctx, customerID, id)
		if err != nil {
			return err
		}
		if !found {
			return apperr.NotFound("address")
		}
		now := s.clock.Now()
		if in.IsDefault && !a.IsDefault {
			if err := s.store.clearDefault(ctx, customerID, now); err != nil {
				return err
			}
			a.IsDefault = true
		}
		a.Name, a.Phone, a.Province, a.City, a.District, a.Detail, a.UpdatedAt =
			in.Name, in.Phone, in.Province, in.City, in.District, in.Detail, now
		ok, err := s.store.update(ctx, a)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.NotFound("address")
		}
		out = a
		return nil
	})
	return out, err
}

// Delete removes an address; when it was the default, the newest remaining
// address becomes the default in the same transaction.
func (s *Service) Delete(ctx context.Context, customerID, id int64) error {
	return s.tx(ctx, customerID, func(ctx context.Context) error {
		a, found, err := s.store.get(ctx, customerID, id)
		if err != nil {
			return err
		}
		if !found {
			return apperr.NotFound("address")
		}
		ok, err := s.store.delete(ctx, customerID, id)
		if err != nil {
			return err
		}
		if !ok {
			return apperr.NotFound("address")
		}
		if a.IsDefault {
			return s.store.promoteNewest(ctx, customerID, s.clock.Now())
		}
		return nil
	})
}
