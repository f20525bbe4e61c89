package catalog_test

import (
	"context"
	"testing"

	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestSeedDemo(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		seeded, err := catalog.SeedDemo(ctx, f.svc, staff)
		if err != nil || !seeded {
			t.Fatalf("SeedDemo = %v, %v", seeded, err)
		}
		tree, err := f.svc.Tree(ctx, true)
		if err != nil {
			t.Fatal(err)
		}
		deepest := 0
		var walk func(nodes []*catalog.CategoryNode)
		walk = func(nodes []*catalog.CategoryNode) {
			for _, n := range nodes {
				deepest = max(deepest, n.Depth)
				walk(n.Children)
			}
		}
		walk(tree)
		if deepest != 3 {
			t.Fatalf("demo tree is %d levels deep, want 3", deepest)
		}
		list, total, err := f.svc.PublicProducts(ctx, catalog.ProductQuery{Limit: 100})
		if err != nil || total < 20 {
			t.Fatalf("%d on-shelf demo products (%v), want at least 20", total, err)
		}
		multi := 0
		for _, s := range list {
			p, err := f.svc.PublicProduct(ctx, s.ID)
			if err != nil {
				t.Fatal(err)
			}
			stock := int64(0)
			for _, k := range p.SKUs {
				stock += k.Stock
			}
			if stock == 0 {
				t.Errorf("%s has no stock", p.Title)
			}
			if len(p.SKUs) > 1 {
				multi++
			}
		}
		if multi < 20 {
			t.Fatalf("%d products with several SKUs, want at least 20", multi)
		}
		if got, _, _ := f.svc.PublicProducts(ctx, catalog.ProductQuery{Q: "龙井"}); len(got) != 1 {
			t.Fatalf("search in the demo catalog found %d products, want 1", len(got))
		}
		// A second run leaves a non-empty catalog alone.
		if seeded, err := catalog.SeedDemo(ctx, f.svc, staff); err != nil || seeded {
			t.Fatalf("second SeedDemo = %v, %v", seeded, err)
		}
		if _, total2, _ := f.svc.Products(ctx, catalog.ProductQuery{}); total2 != total {
			t.Fatalf("second seed changed the catalog: %d → %d products", total, total2)
		}
	})
}
