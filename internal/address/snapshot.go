package address

import (
	"context"

	"github.com/maypok86/otter/v2"

	"github.com/minimall/minimall/internal/platform/db"
)

// snapshotEntries bounds the addresses remembered for checkout.
const snapshotEntries = 100_000

// snapshots remembers addresses checkout has read, by id. An entry may be
// stale (another instance changed the address; this instance's own writes
// drop it after commit), which is why Snapshot's callers write the address
// only under SnapshotGuard.
type snapshots struct {
	c *otter.Cache[int64, Address]
}

func newSnapshots() *snapshots {
	return &snapshots{c: otter.Must(&otter.Options[int64, Address]{MaximumSize: snapshotEntries})}
}

// Snapshot returns one of the customer's addresses for an order to copy,
// from memory when this instance has read it before, else as Get does. A
// remembered address may be out of date: whoever copies it must write the
// copy under SnapshotGuard(a), which holds only while the stored address
// still reads the same, and on a miss read it again with Get.
func (s *Service) Snapshot(ctx context.Context, customerID, id int64) (Address, error) {
	if a, ok := s.snaps.c.GetIfPresent(id); ok && a.CustomerID == customerID {
		return a, nil
	}
	return s.Get(ctx, customerID, id)
}

// SnapshotGuard is an SQL condition that holds while the stored address
// still has a's owner and every field an order copies (name, phone,
// province, city, district, detail). MySQL compares with the column's
// collation (utf8mb4_unicode_ci): a change of letter case alone goes
// unnoticed, which changes no delivery. A statement guarded by it, such as
// an INSERT … SELECT … WHERE guard, writes nothing when the address changed
// or was deleted.
func SnapshotGuard(a Address) (string, []any) {
	return `EXISTS (SELECT 1 FROM addresses WHERE id = ? AND customer_id = ? AND name = ? AND phone = ?
		AND province = ? AND city = ? AND district = ? AND detail = ?)`,
		[]any{a.ID, a.CustomerID, a.Name, a.Phone, a.Province, a.City, a.District, a.Detail}
}

// forget drops an address from memory once a change to it has committed.
// A read racing the change can still put the old address back; the guard
// then catches it, at the cost of one checkout read again.
func (s *Service) forget(ctx context.Context, id int64) {
	db.AfterCommit(ctx, func(context.Context) { s.snaps.c.Invalidate(id) })
}
