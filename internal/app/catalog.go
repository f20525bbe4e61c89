package app

import (
	"github.com/minimall/minimall/internal/cart"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/user"
)

// buildCatalog wires the catalog (public reads, staff writes announced to
// an invalidator), the cart and the address book.
func (a *App) buildCatalog() error {
	store, err := catalog.NewStore(a.db)
	if err != nil {
		return err
	}
	// No read cache exists yet: committed writes are announced to nobody.
	if a.catalogSvc, err = catalog.NewService(a.db, store, a.audit, a.clock, catalog.NopInvalidator{}); err != nil {
		return err
	}
	if a.catalogH, err = catalog.NewHandlers(a.catalogSvc); err != nil {
		return err
	}
	cartStore, err := cart.NewStore(a.db)
	if err != nil {
		return err
	}
	carts, err := cart.NewService(a.db, cartStore, a.catalogSvc, a.clock)
	if err != nil {
		return err
	}
	if a.cartH, err = cart.NewHandlers(carts); err != nil {
		return err
	}
	addrStore, err := user.NewAddressStore(a.db)
	if err != nil {
		return err
	}
	addrs, err := user.NewAddressService(a.db, addrStore, a.clock)
	if err != nil {
		return err
	}
	a.addressesH, err = user.NewAddressHandlers(addrs)
	return err
}
