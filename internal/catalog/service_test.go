package catalog_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/apperr"
	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

const staff = int64(7)

// recorder remembers every change announced to it.
type recorder struct {
	mu      sync.Mutex
	changes []catalog.Change
}

func (r *recorder) CatalogChanged(_ context.Context, ch catalog.Change) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.changes = append(r.changes, ch)
}

func (r *recorder) all() []catalog.Change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.changes)
}

type fixture struct {
	d     *db.DB
	svc   *catalog.Service
	audit *audit.Log
	inv   *recorder
	clk   *clock.Fake
}

func newFixture(t *testing.T, d *db.DB) *fixture {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC))
	lg, err := audit.New(d, clk)
	if err != nil {
		t.Fatal(err)
	}
	st, err := catalog.NewStore(d)
	if err != nil {
		t.Fatal(err)
	}
	inv := &recorder{}
	svc, err := catalog.NewService(d, st, lg, clk, inv)
	if err != nil {
		t.Fatal(err)
	}
	return &fixture{d: d, svc: svc, audit: lg, inv: inv, clk: clk}
}

func ptr[T any](v T) *T { return &v }

func (f *fixture) category(t *testing.T, parent int64, name string) catalog.Category {
	t.Helper()
	c, err := f.svc.CreateCategory(context.Background(), staff, catalog.CategoryInput{ParentID: &parent, Name: &name})
	if err != nil {
		t.Fatalf("create category %s: %v", name, err)
	}
	return c
}

func productInput(categoryID int64, title string, prefix string, prices ...int64) catalog.ProductInput {
	in := catalog.ProductInput{CategoryID: categoryID, Title: title, Images: []string{"https://img.example.com/" + prefix + ".jpg"}}
	for i, p := range prices {
		in.SKUs = append(in.SKUs, catalog.SKUInput{
			Code:  fmt.Sprintf("%s-%d", prefix, i),
			Specs: map[string]string{"颜色": fmt.Sprintf("色%d", i)}, PriceFen: p, Stock: 10,
		})
	}
	return in
}

func (f *fixture) product(t *testing.T, in catalog.ProductInput, onShelf bool) catalog.Product {
	t.Helper()
	p, err := f.svc.CreateProduct(context.Background(), staff, in, onShelf)
	if err != nil {
		t.Fatalf("create product %s: %v", in.Title, err)
	}
	return p
}

func wantCode(t *testing.T, err error, code apperr.Code) {
	t.Helper()
	if got := apperr.CodeOf(err); err == nil || got != code {
		t.Fatalf("err = %v, want code %s", err, code)
	}
}

func TestCategoryTree(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		food := f.category(t, 0, "食品")
		tea := f.category(t, food.ID, "茶叶")
		green := f.category(t, tea.ID, "绿茶")
		deep := f.category(t, green.ID, "龙井")
		if deep.Depth != 4 {
			t.Fatalf("depth = %d, want 4", deep.Depth)
		}
		n := "太深"
		_, err := f.svc.CreateCategory(ctx, staff, catalog.CategoryInput{ParentID: &deep.ID, Name: &n})
		wantCode(t, err, apperr.CodeInvalid)
		_, err = f.svc.CreateCategory(ctx, staff, catalog.CategoryInput{ParentID: ptr(int64(999)), Name: &n})
		wantCode(t, err, apperr.CodeNotFound)
		_, err = f.svc.CreateCategory(ctx, staff, catalog.CategoryInput{ParentID: &food.ID, Name: ptr("茶叶")})
		wantCode(t, err, apperr.CodeConflict)

		// A category cannot move under its own descendant.
		_, err = f.svc.UpdateCategory(ctx, staff, tea.ID, catalog.CategoryInput{ParentID: &green.ID})
		wantCode(t, err, apperr.CodeInvalid)
		// Moving tea to the root lifts its subtree by one level.
		if _, err := f.svc.UpdateCategory(ctx, staff, tea.ID, catalog.CategoryInput{ParentID: ptr(int64(0))}); err != nil {
			t.Fatal(err)
		}
		tree, err := f.svc.Tree(ctx, false)
		if err != nil {
			t.Fatal(err)
		}
		if len(tree) != 2 || tree[1].ID != tea.ID || tree[1].Children[0].Children[0].Depth != 3 {
			t.Fatalf("tree after move = %+v", tree)
		}
		// Hidden categories leave the public tree with their subtree.
		if _, err := f.svc.UpdateCategory(ctx, staff, tea.ID, catalog.CategoryInput{Visible: ptr(false)}); err != nil {
			t.Fatal(err)
		}
		pub, _ := f.svc.Tree(ctx, true)
		if len(pub) != 1 || pub[0].ID != food.ID {
			t.Fatalf("public tree = %+v, want only 食品", pub)
		}

		// Delete refuses a category with children or products.
		wantCode(t, f.svc.DeleteCategory(ctx, staff, tea.ID), apperr.CodeConflict)
		f.product(t, productInput(deep.ID, "西湖龙井", "lj", 100), false)
		wantCode(t, f.svc.DeleteCategory(ctx, staff, deep.ID), apperr.CodeConflict)
		if err := f.svc.DeleteCategory(ctx, staff, food.ID); err != nil {
			t.Fatalf("delete empty category: %v", err)
		}
		wantCode(t, f.svc.DeleteCategory(ctx, staff, food.ID), apperr.CodeNotFound)
		entries, _ := f.audit.ListByTarget(ctx, "category", fmt.Sprint(food.ID))
		if len(entries) != 2 || entries[1].Action != "category.delete" || entries[1].StaffID != staff {
			t.Fatalf("audit of category = %+v", entries)
		}
	})
}

func TestProductValidation(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		c := f.category(t, 0, "服装")
		good := func() catalog.ProductInput {
			in := productInput(c.ID, "纯棉T恤", "tee", 100, 200)
			in.SKUs[0].Specs = map[string]string{"颜色": "红", "尺码": "M"}
			in.SKUs[1].Specs = map[string]string{"颜色": "红", "尺码": "L"}
			return in
		}
		long := ""
		for range catalog.MaxTitleLen + 1 {
			long += "长"
		}
		cases := []struct {
			name  string
			edit  func(in *catalog.ProductInput)
			field string
			code  apperr.Code
		}{
			{"empty title", func(in *catalog.ProductInput) { in.Title = "  " }, "title", apperr.CodeInvalid},
			{"long title", func(in *catalog.ProductInput) { in.Title = long }, "title", apperr.CodeInvalid},
			{"price zero", func(in *catalog.ProductInput) { in.SKUs[1].PriceFen = 0 }, "skus[1].price_fen", apperr.CodeInvalid},
			{"negative stock", func(in *catalog.ProductInput) { in.SKUs[0].Stock = -1 }, "skus[0].stock", apperr.CodeInvalid},
			{"no skus", func(in *catalog.ProductInput) { in.SKUs = nil }, "skus", apperr.CodeInvalid},
			{"spec keys differ", func(in *catalog.ProductInput) { in.SKUs[1].Specs = map[string]string{"颜色": "蓝"} }, "skus[1].specs", apperr.CodeInvalid},
			{"same specs twice", func(in *catalog.ProductInput) { in.SKUs[1].Specs = map[string]string{"颜色": "红", "尺码": "M"} }, "skus[1].specs", apperr.CodeInvalid},
			{"code repeated", func(in *catalog.ProductInput) { in.SKUs[1].Code = in.SKUs[0].Code }, "skus[1].sku_code", apperr.CodeInvalid},
			{"bad code", func(in *catalog.ProductInput) { in.SKUs[1].Code = "a b" }, "skus[1].sku_code", apperr.CodeInvalid},
			{"bad image", func(in *catalog.ProductInput) { in.Images = []string{"javascript:alert(1)"} }, "images[0]", apperr.CodeInvalid},
			{"unknown category", func(in *catalog.ProductInput) { in.CategoryID = 999 }, "", apperr.CodeNotFound},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				in := good()
				tc.edit(&in)
				_, err := f.svc.CreateProduct(ctx, staff, in, true)
				wantCode(t, err, tc.code)
				if tc.field != "" {
					var ae *apperr.Error
					if !asErr(err, &ae) || !slices.Contains(ae.Details["fields"].([]string), tc.field) {
						t.Fatalf("err = %v, want field %s", err, tc.field)
					}
				}
			})
		}
		list, total, err := f.svc.Products(ctx, catalog.ProductQuery{})
		if err != nil || total != 0 || len(list) != 0 {
			t.Fatalf("after refused writes: %d products, %v", total, err)
		}
		p := f.product(t, good(), true)
		if p.MinPriceFen != 100 || len(p.SKUs) != 2 || p.SKUs[0].SpecText != "尺码:M; 颜色:红" {
			t.Fatalf("created product = %+v", p)
		}
		// A code taken by another product is a conflict, and nothing is written.
		other := productInput(c.ID, "别的", "x", 100)
		other.SKUs[0].Code = "tee-1"
		_, err = f.svc.CreateProduct(ctx, staff, other, false)
		wantCode(t, err, apperr.CodeConflict)
		if _, total, _ := f.svc.Products(ctx, catalog.ProductQuery{}); total != 1 {
			t.Fatalf("after conflict: %d products, want 1", total)
		}
	})
}

func asErr(err error, target **apperr.Error) bool {
	e, ok := err.(*apperr.Error)
	if ok {
		*target = e
	}
	return ok
}

func TestUpdateReplacesSKUsAndKeepsStock(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		c := f.category(t, 0, "服装")
		c2 := f.category(t, 0, "鞋靴")
		p := f.product(t, productInput(c.ID, "旧标题", "p", 300, 400, 500), true)
		a, b, gone := p.SKUs[0], p.SKUs[1], p.SKUs[2]
		if _, err := f.svc.AdjustStock(ctx, staff, a.ID, catalog.StockChange{Delta: ptr(int64(5)), Reason: "入库"}); err != nil {
			t.Fatal(err)
		}
		in := catalog.ProductInput{CategoryID: c2.ID, Title: "新标题", SKUs: []catalog.SKUInput{
			// a by id with a new price and a stock the write must ignore
			{ID: a.ID, Code: a.Code, Specs: map[string]string{"颜色": "色0"}, PriceFen: 250, Stock: 999},
			// b by code
			{Code: b.Code, Specs: map[string]string{"颜色": "色1"}, PriceFen: 400, Stock: 0},
			// a new SKU with its initial stock
			{Code: "p-new", Specs: map[string]string{"颜色": "新"}, PriceFen: 600, Stock: 7},
		}}
		got, err := f.svc.UpdateProduct(ctx, staff, p.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		stocks := map[string]int64{}
		for _, k := range got.SKUs {
			stocks[k.Code] = k.Stock
		}
		want := map[string]int64{a.Code: 15, b.Code: 10, "p-new": 7}
		if fmt.Sprint(stocks) != fmt.Sprint(want) {
			t.Fatalf("stock after update = %v, want %v", stocks, want)
		}
		if got.Title != "新标题" || got.CategoryID != c2.ID || got.MinPriceFen != 250 || !got.OnShelf {
			t.Fatalf("updated product = %+v", got)
		}
		// The removed SKU stays readable for history, marked deleted.
		items, err := f.svc.Items(ctx, []int64{gone.ID, a.ID})
		if err != nil {
			t.Fatal(err)
		}
		if !items[gone.ID].Deleted || items[gone.ID].Available() || items[gone.ID].Title != "新标题" {
			t.Fatalf("removed sku item = %+v", items[gone.ID])
		}
		if !items[a.ID].Available() || items[a.ID].PriceFen != 250 {
			t.Fatalf("kept sku item = %+v", items[a.ID])
		}
		// Adding the removed code back revives that SKU with its stock.
		in.SKUs = append(in.SKUs, catalog.SKUInput{Code: gone.Code, Specs: map[string]string{"颜色": "色2"}, PriceFen: 90})
		got, err = f.svc.UpdateProduct(ctx, staff, p.ID, in)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.SKUs) != 4 || got.SKUs[3].ID != gone.ID || got.SKUs[3].Stock != 10 || got.MinPriceFen != 90 {
			t.Fatalf("revived = %+v", got.SKUs)
		}
		// An id of another product's SKU is not found; nothing changes.
		q := f.product(t, productInput(c.ID, "别的", "q", 100), false)
		bad := in
		bad.SKUs = append(slices.Clone(in.SKUs[:1]), catalog.SKUInput{ID: q.SKUs[0].ID, Code: "zz", Specs: map[string]string{"颜色": "z"}, PriceFen: 1})
		_, err = f.svc.UpdateProduct(ctx, staff, p.ID, bad)
		wantCode(t, err, apperr.CodeNotFound)
		_, err = f.svc.UpdateProduct(ctx, staff, 9999, in)
		wantCode(t, err, apperr.CodeNotFound)
		again, _ := f.svc.Product(ctx, p.ID)
		if len(again.SKUs) != 4 {
			t.Fatalf("refused update changed skus: %+v", again.SKUs)
		}
		// Every write was announced with its product.
		var announced []int64
		for _, ch := range f.inv.all() {
			announced = append(announced, ch.ProductIDs...)
		}
		if n := len(slices.DeleteFunc(slices.Clone(announced), func(id int64) bool { return id != p.ID })); n != 4 {
			t.Fatalf("product %d announced %d times (%v), want 4 (create, stock, 2 updates)", p.ID, n, announced)
		}
	})
}

func TestPublicListAndSearch(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		food := f.category(t, 0, "食品")
		tea := f.category(t, food.ID, "茶叶")
		green := f.category(t, tea.ID, "绿茶")
		clothes := f.category(t, 0, "服装")
		lj := f.product(t, productInput(green.ID, "西湖龙井 明前特级 250g", "lj", 30000, 16000), true)
		bl := f.product(t, productInput(green.ID, "洞庭碧螺春", "bl", 12000), true)
		tee := f.product(t, productInput(clothes.ID, "纯棉圆领T恤 男款", "tee", 5900), true)
		off := f.product(t, productInput(tea.ID, "安吉白茶", "off", 8000), false)
		hidden := f.category(t, 0, "隐藏")
		if _, err := f.svc.UpdateCategory(ctx, staff, hidden.ID, catalog.CategoryInput{Visible: ptr(false)}); err != nil {
			t.Fatal(err)
		}

		ids := func(ps []catalog.Product) []int64 {
			out := []int64{}
			for _, p := range ps {
				out = append(out, p.ID)
			}
			return out
		}
		cases := []struct {
			name string
			q    catalog.ProductQuery
			want []int64
			code apperr.Code
		}{
			{"default newest first", catalog.ProductQuery{}, []int64{tee.ID, bl.ID, lj.ID}, ""},
			{"category covers descendants", catalog.ProductQuery{CategoryID: food.ID}, []int64{bl.ID, lj.ID}, ""},
			{"price asc by lowest sku", catalog.ProductQuery{Sort: catalog.SortPriceAsc}, []int64{tee.ID, bl.ID, lj.ID}, ""},
			{"price desc", catalog.ProductQuery{Sort: catalog.SortPriceDesc}, []int64{lj.ID, bl.ID, tee.ID}, ""},
			{"chinese substring", catalog.ProductQuery{Q: "龙井"}, []int64{lj.ID}, ""},
			{"three characters", catalog.ProductQuery{Q: "碧螺春"}, []int64{bl.ID}, ""},
			{"inner substring", catalog.ProductQuery{Q: "明前特"}, []int64{lj.ID}, ""},
			{"latin case and width", catalog.ProductQuery{Q: "ｔ恤"}, []int64{tee.ID}, ""},
			{"several words", catalog.ProductQuery{Q: "圆领 男款"}, []int64{tee.ID}, ""},
			{"single character", catalog.ProductQuery{Q: "茶"}, []int64{}, ""},
			{"no match", catalog.ProductQuery{Q: "龙茶"}, []int64{}, ""},
			{"off shelf not listed", catalog.ProductQuery{Q: "白茶"}, []int64{}, ""},
			{"search within category", catalog.ProductQuery{Q: "250g", CategoryID: tea.ID}, []int64{lj.ID}, ""},
			{"unknown category", catalog.ProductQuery{CategoryID: 9999}, nil, apperr.CodeNotFound},
			{"hidden category", catalog.ProductQuery{CategoryID: hidden.ID}, nil, apperr.CodeNotFound},
			{"bad sort", catalog.ProductQuery{Sort: "rand"}, nil, apperr.CodeInvalid},
			{"punctuation only", catalog.ProductQuery{Q: "!!"}, nil, apperr.CodeInvalid},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, total, err := f.svc.PublicProducts(ctx, tc.q)
				if tc.code != "" {
					wantCode(t, err, tc.code)
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if !slices.Equal(ids(got), tc.want) || total != int64(len(tc.want)) {
					t.Fatalf("got %v (total %d), want %v", ids(got), total, tc.want)
				}
			})
		}
		if _, err := f.svc.PublicProduct(ctx, off.ID); apperr.CodeOf(err) != apperr.CodeNotFound {
			t.Fatalf("off-shelf detail: %v, want not_found", err)
		}
		if p, err := f.svc.PublicProduct(ctx, lj.ID); err != nil || len(p.SKUs) != 2 || p.Rating.Average() != 0 {
			t.Fatalf("detail = %+v, %v", p, err)
		}
		// Staff see off-shelf products and can filter by shelf state.
		got, total, err := f.svc.Products(ctx, catalog.ProductQuery{OnShelf: ptr(false)})
		if err != nil || total != 1 || got[0].ID != off.ID {
			t.Fatalf("staff off-shelf list = %v, %d, %v", ids(got), total, err)
		}
		// Off shelf then on again moves it in and out of the public list.
		if _, err := f.svc.SetShelf(ctx, staff, lj.ID, false); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := f.svc.PublicProducts(ctx, catalog.ProductQuery{Q: "龙井"}); len(got) != 0 {
			t.Fatalf("off-shelf product still found: %v", ids(got))
		}
		_, err = f.svc.SetShelf(ctx, staff, 9999, true)
		wantCode(t, err, apperr.CodeNotFound)
		// A title change rewrites the tokens in the same write.
		in := productInput(clothes.ID, "亚麻衬衫", "tee", 5900)
		if _, err := f.svc.UpdateProduct(ctx, staff, tee.ID, in); err != nil {
			t.Fatal(err)
		}
		if got, _, _ := f.svc.PublicProducts(ctx, catalog.ProductQuery{Q: "T恤"}); len(got) != 0 {
			t.Fatalf("old title still found: %v", ids(got))
		}
		if got, _, _ := f.svc.PublicProducts(ctx, catalog.ProductQuery{Q: "衬衫"}); len(got) != 1 {
			t.Fatalf("new title not found: %v", ids(got))
		}
	})
}

func TestStablePagination(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		c := f.category(t, 0, "杂货")
		for i := range 25 {
			f.product(t, productInput(c.ID, fmt.Sprintf("商品%d", i), fmt.Sprintf("g%d", i), int64(100*(i%3+1))), true)
		}
		for _, sort := range []string{catalog.SortDefault, catalog.SortPriceAsc, catalog.SortPriceDesc, catalog.SortSales} {
			seen := map[int64]bool{}
			var prev catalog.Product
			for page := range 3 {
				got, total, err := f.svc.PublicProducts(ctx, catalog.ProductQuery{Sort: sort, Offset: page * 10, Limit: 10})
				if err != nil || total != 25 {
					t.Fatalf("%s page %d: total %d, %v", sort, page, total, err)
				}
				for _, p := range got {
					if seen[p.ID] {
						t.Fatalf("%s: product %d on two pages", sort, p.ID)
					}
					seen[p.ID] = true
					if sort == catalog.SortPriceAsc && prev.ID != 0 && p.MinPriceFen < prev.MinPriceFen {
						t.Fatalf("price_asc out of order: %d after %d", p.MinPriceFen, prev.MinPriceFen)
					}
					prev = p
				}
			}
			if len(seen) != 25 {
				t.Fatalf("%s: %d distinct products over 3 pages, want 25", sort, len(seen))
			}
		}
	})
}

func TestStockAdjustments(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		c := f.category(t, 0, "杂货")
		p := f.product(t, productInput(c.ID, "毛巾", "tw", 100), true)
		sku := p.SKUs[0].ID
		cases := []struct {
			name  string
			ch    catalog.StockChange
			code  apperr.Code
			stock int64
		}{
			{"delta in", catalog.StockChange{Delta: ptr(int64(5)), Reason: "入库"}, "", 15},
			{"delta out", catalog.StockChange{Delta: ptr(int64(-3)), Reason: "盘点"}, "", 12},
			{"below zero", catalog.StockChange{Delta: ptr(int64(-13)), Reason: "x"}, apperr.CodeConflict, 12},
			{"set as expected", catalog.StockChange{Set: ptr(int64(40)), Expected: ptr(int64(12)), Reason: "盘点"}, "", 40},
			{"set stale", catalog.StockChange{Set: ptr(int64(1)), Expected: ptr(int64(12)), Reason: "盘点"}, apperr.CodeConflict, 40},
			{"no reason", catalog.StockChange{Delta: ptr(int64(1))}, apperr.CodeInvalid, 40},
			{"zero delta", catalog.StockChange{Delta: ptr(int64(0)), Reason: "x"}, apperr.CodeInvalid, 40},
			{"both", catalog.StockChange{Delta: ptr(int64(1)), Set: ptr(int64(1)), Expected: ptr(int64(1)), Reason: "x"}, apperr.CodeInvalid, 40},
			{"set without expected", catalog.StockChange{Set: ptr(int64(1)), Reason: "x"}, apperr.CodeInvalid, 40},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				got, err := f.svc.AdjustStock(ctx, staff, sku, tc.ch)
				if tc.code != "" {
					wantCode(t, err, tc.code)
				} else if err != nil || got != tc.stock {
					t.Fatalf("AdjustStock = %d, %v, want %d", got, err, tc.stock)
				}
				items, _ := f.svc.Items(ctx, []int64{sku})
				if items[sku].Stock != tc.stock {
					t.Fatalf("stock = %d, want %d", items[sku].Stock, tc.stock)
				}
			})
		}
		_, err := f.svc.AdjustStock(ctx, staff, 9999, catalog.StockChange{Delta: ptr(int64(1)), Reason: "x"})
		wantCode(t, err, apperr.CodeNotFound)
		adj, err := f.svc.Store().Adjustments(ctx, sku)
		if err != nil {
			t.Fatal(err)
		}
		kinds := []string{}
		for _, a := range adj {
			if a.StaffID != staff {
				t.Fatalf("adjustment by staff %d, want %d", a.StaffID, staff)
			}
			kinds = append(kinds, fmt.Sprintf("%s%+d=%d", a.Kind, a.Delta, a.StockAfter))
		}
		want := []string{"initial+10=10", "delta+5=15", "delta-3=12", "set+28=40"}
		if !slices.Equal(kinds, want) {
			t.Fatalf("adjustments = %v, want %v", kinds, want)
		}
		entries, _ := f.audit.ListByTarget(ctx, "sku", fmt.Sprint(sku))
		if len(entries) != 3 {
			t.Fatalf("%d audit entries for the sku, want 3", len(entries))
		}
	})
}

func TestConcurrentStockDeltasSumExactly(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		c := f.category(t, 0, "杂货")
		sku := f.product(t, productInput(c.ID, "毛巾", "tw", 100), true).SKUs[0].ID
		const n = 40
		var wg sync.WaitGroup
		errs := make(chan error, n)
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				delta := int64(3)
				if i%2 == 1 {
					delta = -1
				}
				_, err := f.svc.AdjustStock(ctx, staff, sku, catalog.StockChange{Delta: &delta, Reason: "并发"})
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		items, _ := f.svc.Items(ctx, []int64{sku})
		if want := int64(10 + 20*3 - 20); items[sku].Stock != want {
			t.Fatalf("stock = %d, want %d", items[sku].Stock, want)
		}
		adj, _ := f.svc.Store().Adjustments(ctx, sku)
		if len(adj) != n+1 {
			t.Fatalf("%d adjustments, want %d", len(adj), n+1)
		}
	})
}

func TestDecrementStockNeverOversells(t *testing.T) {
	dbtest.Each(t, func(t *testing.T, d *db.DB) {
		ctx := context.Background()
		f := newFixture(t, d)
		c := f.category(t, 0, "杂货")
		sku := f.product(t, productInput(c.ID, "毛巾", "tw", 100), true).SKUs[0].ID
		var wg sync.WaitGroup
		var mu sync.Mutex
		taken := 0
		for range 30 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var ok bool
				err := d.Tx(ctx, func(ctx context.Context) error {
					var err error
					ok, err = f.svc.Store().DecrementStock(ctx, sku, 1)
					return err
				})
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					taken++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		items, _ := f.svc.Items(ctx, []int64{sku})
		if taken != 10 || items[sku].Stock != 0 {
			t.Fatalf("taken %d, stock %d; want 10 and 0", taken, items[sku].Stock)
		}
		if ok, err := f.svc.Store().IncrementStock(ctx, sku, 2); !ok || err != nil {
			t.Fatalf("IncrementStock = %v, %v", ok, err)
		}
	})
}
