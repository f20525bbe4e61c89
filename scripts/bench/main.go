// Command bench is the load test's helper: it seeds a database with a large
// catalog and customers' carts, mints their access tokens, and serves the bare
// gin handler that every endpoint is compared with. scripts/bench.sh drives it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/catalog"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "bench:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return errors.New("usage: bench seed|bare|demo-env|tokens|warm [flags]")
	}
	switch args[0] {
	case "seed":
		return seed(ctx, args[1:], stdout)
	case "bare":
		return bare(args[1:])
	case "demo-env":
		return demoEnv(args[1:], stdout)
	case "tokens":
		return tokensOnly(args[1:])
	case "warm":
		return warm(ctx, args[1:], stdout)
	default:
		return fmt.Errorf("unknown command %q", args[0])
	}
}

// bare serves GET /bare: a fixed 1 KB JSON body from a gin engine with no
// middleware, the ceiling the API's endpoints are measured against.
func bare(args []string) error {
	fs := flag.NewFlagSet("bare", flag.ContinueOnError)
	addr := fs.String("addr", "127.0.0.1:18081", "listen address")
	if err := fs.Parse(args); err != nil {
		return err
	}
	items := make([]gin.H, 0, 12)
	for i := 0; len(items) < 12; i++ {
		items = append(items, gin.H{"id": i + 1, "title": "商品标题示例" + strconv.Itoa(i), "price_fen": 1990 + i})
	}
	body, err := jsonBody(gin.H{"items": items, "total": len(items), "page": 1, "page_size": 20})
	if err != nil {
		return err
	}
	gin.SetMode(gin.ReleaseMode)
	e := gin.New()
	e.GET("/bare", func(c *gin.Context) { c.Data(http.StatusOK, "application/json; charset=utf-8", body) })
	fmt.Printf("bare handler on http://%s/bare (%d bytes)\n", *addr, len(body))
	return http.ListenAndServe(*addr, e)
}

// Title words: every product title is a brand, an adjective and a noun, so
// keyword searches for two-character words match a realistic share.
var (
	brands = []string{"山野", "云朵", "北极", "小象", "青禾", "木语", "星河", "暖阳", "海盐", "松果"}
	adjs   = []string{"加厚", "轻薄", "纯棉", "防水", "便携", "复古", "简约", "儿童", "保温", "真丝"}
	nouns  = []string{"连衣裙", "羽绒服", "保温杯", "双肩包", "运动鞋", "床上四件套", "蓝牙耳机", "毛巾", "围巾", "收纳盒",
		"茶具", "台灯", "拖鞋", "雨伞", "手套", "帽子", "袜子", "枕头", "背包", "水杯"}
	colors = []string{"黑色", "白色", "灰色", "蓝色", "红色"}
	sizes  = []string{"S", "M", "L", "XL"}
)

// Queries returns the URL-encoded keyword queries the load test uses.
func queries() []string {
	words := []string{"连衣裙", "保温杯", "加厚", "纯棉", "蓝牙耳机", "山野", "双肩包", "简约", "儿童", "运动鞋"}
	out := make([]string, len(words))
	for i, w := range words {
		out[i] = url.QueryEscape(w)
	}
	return out
}

func seed(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("seed", flag.ContinueOnError)
	driver := fs.String("driver", "mysql", "sqlite or mysql")
	dsn := fs.String("dsn", "", "database DSN (an empty database)")
	products := fs.Int("products", 10000, "products to create")
	skusPer := fs.Int("skus", 3, "SKUs per product")
	customers := fs.Int("customers", 500, "customers with a cart")
	lines := fs.Int("cart-lines", 8, "cart lines per customer")
	secret := fs.String("secret", "", "MINIMALL_JWT_SECRET of the server under test")
	tokens := fs.String("tokens", "tokens.txt", "file receiving one customer access token a line")
	workers := fs.Int("workers", 8, "concurrent writers")
	if err := fs.Parse(args); err != nil {
		return err
	}
	d, err := db.Open(ctx, *driver, *dsn, db.Options{MaxOpenConns: *workers * 2})
	if err != nil {
		return err
	}
	defer d.Close()
	if _, err := d.Migrate(ctx); err != nil {
		return err
	}
	clk := clock.System{}
	log, err := audit.New(d, clk)
	if err != nil {
		return err
	}
	store, err := catalog.NewStore(d)
	if err != nil {
		return err
	}
	cat, err := catalog.NewService(d, store, log, clk, catalog.NopInvalidator{})
	if err != nil {
		return err
	}
	const staff = 1
	start := time.Now()

	// A three-level tree: 4 roots, 3 children each, 4 leaves each (48 leaves).
	var leaves, mids []int64
	for r := 0; r < 4; r++ {
		root, err := cat.CreateCategory(ctx, staff, catalog.CategoryInput{Name: ptr(fmt.Sprintf("一级类目%d", r+1))})
		if err != nil {
			return err
		}
		for m := 0; m < 3; m++ {
			mid, err := cat.CreateCategory(ctx, staff, catalog.CategoryInput{ParentID: &root.ID, Name: ptr(fmt.Sprintf("二级类目%d-%d", r+1, m+1))})
			if err != nil {
				return err
			}
			mids = append(mids, mid.ID)
			for l := 0; l < 4; l++ {
				leaf, err := cat.CreateCategory(ctx, staff, catalog.CategoryInput{ParentID: &mid.ID, Name: ptr(fmt.Sprintf("三级类目%d-%d-%d", r+1, m+1, l+1))})
				if err != nil {
					return err
				}
				leaves = append(leaves, leaf.ID)
			}
		}
	}

	catsDone := time.Now()
	if err := seedProducts(ctx, d, leaves, *products, *skusPer, *workers); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d categories in %s, then %d products in %s\n", len(leaves)+len(mids)+4,
		catsDone.Sub(start).Round(time.Millisecond), *products, time.Since(catsDone).Round(time.Millisecond))

	issuer, err := auth.NewTokens(*secret, clk)
	if err != nil {
		return err
	}
	f, err := os.Create(*tokens)
	if err != nil {
		return err
	}
	defer f.Close()
	totalSKUs := int64(*products * *skusPer)
	toks := make([]string, *customers)
	if err := seedCarts(ctx, d, *customers, *lines, totalSKUs); err != nil {
		return err
	}
	for c := 1; c <= *customers; c++ {
		tok, _, err := issuer.IssueCustomer(int64(c), "wechat")
		if err != nil {
			return err
		}
		toks[c-1] = tok
	}
	for _, tok := range toks {
		fmt.Fprintln(f, tok)
	}
	fmt.Fprintf(os.Stderr, "seeded %d carts of %d lines in %s\n", *customers, *lines, time.Since(start).Round(time.Millisecond))

	cats := append(append([]int64{}, mids...), leaves[:12]...)
	ids := make([]string, len(cats))
	for i, id := range cats {
		ids[i] = strconv.FormatInt(id, 10)
	}
	fmt.Fprintf(stdout, "BENCH_PRODUCTS=%d\nBENCH_CATEGORY_IDS=%s\nBENCH_QUERIES=%s\n",
		*products, strings.Join(ids, ","), strings.Join(queries(), ","))
	return nil
}

// seedBatch is how many products one transaction inserts.
const seedBatch = 500

// seedProducts inserts products 1..n on shelf, with skusPer SKUs of 1,000
// units each, their lowest price and their search tokens, in multi-row
// INSERTs of seedBatch products per transaction on several workers: 100,000
// products take seconds instead of the minutes that one service call per
// product would. The rows are what catalog.Service.CreateProduct writes,
// less the audit rows and the initial stock adjustments, which no read
// under test shows. The database must hold no product yet.
func seedProducts(ctx context.Context, d *db.DB, leaves []int64, n, skusPer, workers int) error {
	var next atomic.Int64
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var tokens []tokenRow
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				from := int(next.Add(seedBatch)) - seedBatch
				if from >= n {
					return
				}
				var toks []tokenRow
				if err := d.Tx(ctx, func(ctx context.Context) error {
					var err error
					toks, err = insertBatch(ctx, d, leaves, from, min(from+seedBatch, n), skusPer)
					return err
				}); err != nil {
					errs <- fmt.Errorf("products %d..%d: %w", from+1, min(from+seedBatch, n), err)
					return
				}
				mu.Lock()
				tokens = append(tokens, toks...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	start := time.Now()
	if err := insertTokens(ctx, d, tokens, workers); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d search tokens in %s\n", len(tokens), time.Since(start).Round(time.Millisecond))
	return nil
}

// seedCarts gives customers 1..n lines SKUs each, selected, quantity 1, in
// one multi-row INSERT per 200 customers.
func seedCarts(ctx context.Context, d *db.DB, customers, lines int, totalSKUs int64) error {
	now := time.Now().UTC().Truncate(time.Millisecond)
	for from := 1; from <= customers; from += 200 {
		var b strings.Builder
		var args []any
		b.WriteString("INSERT INTO cart_items (customer_id, sku_id, quantity, selected, created_at, updated_at) VALUES ")
		for c := int64(from); c <= int64(min(from+199, customers)); c++ {
			seen := map[int64]bool{}
			for l := 0; l < lines; l++ {
				sku := (c*7919+int64(l)*104729)%totalSKUs + 1
				if seen[sku] {
					continue
				}
				seen[sku] = true
				if len(args) > 0 {
					b.WriteByte(',')
				}
				b.WriteString("(?,?,?,?,?,?)")
				args = append(args, c, sku, int64(1), true, now, now)
			}
		}
		if err := d.Writer(ctx).Exec(b.String(), args...).Error; err != nil {
			return err
		}
	}
	return nil
}

// tokenRow is a row of product_search_tokens.
type tokenRow struct {
	token string
	id    int64
}

// insertTokens inserts the search tokens in primary-key order (token,
// product), each worker a contiguous range, so that InnoDB appends to its
// index instead of splitting pages all over it: the token table has about
// twenty rows a product and dominates the seeding time otherwise.
func insertTokens(ctx context.Context, d *db.DB, rows []tokenRow, workers int) error {
	slices.SortFunc(rows, func(a, b tokenRow) int {
		if c := strings.Compare(a.token, b.token); c != 0 {
			return c
		}
		return int(a.id - b.id)
	})
	const batch = 5000
	per := (len(rows) + workers - 1) / workers
	errs := make(chan error, workers)
	var wg sync.WaitGroup
	for w := range workers {
		part := rows[min(w*per, len(rows)):min((w+1)*per, len(rows))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for start := 0; start < len(part); start += batch {
				chunk := part[start:min(start+batch, len(part))]
				var b strings.Builder
				args := make([]any, 0, 2*len(chunk))
				b.WriteString("INSERT INTO product_search_tokens (token, product_id) VALUES ")
				for i, r := range chunk {
					if i > 0 {
						b.WriteByte(',')
					}
					b.WriteString("(?,?)")
					args = append(args, r.token, r.id)
				}
				if err := d.Writer(ctx).Exec(b.String(), args...).Error; err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	return <-errs
}

// insertBatch inserts products from+1..to (ids are the product numbers, SKU
// ids follow from them) in two statements and returns their search tokens.
func insertBatch(ctx context.Context, d *db.DB, leaves []int64, from, to, skusPer int) ([]tokenRow, error) {
	now := time.Now().UTC().Truncate(time.Millisecond)
	var prods, skus strings.Builder
	var pa, sa []any
	var toks []tokenRow
	prods.WriteString("INSERT INTO products (id, category_id, title, subtitle, images, description, on_shelf, min_price_fen, sales, rating_count, rating_total, created_at, updated_at) VALUES ")
	skus.WriteString("INSERT INTO skus (id, product_id, sku_code, specs, spec_text, price_fen, original_price_fen, stock, weight_grams, image, position, created_at, updated_at) VALUES ")
	for i := from; i < to; i++ {
		id := int64(i + 1)
		title := fmt.Sprintf("%s%s%s %d号", brands[i%len(brands)], adjs[(i/len(brands))%len(adjs)], nouns[(i/7)%len(nouns)], i+1)
		minPrice := int64(0)
		for k := 0; k < skusPer; k++ {
			price := int64(990 + (i*37+k*100)%50000)
			if minPrice == 0 || price < minPrice {
				minPrice = price
			}
			specs := map[string]string{"颜色": colors[k%len(colors)], "尺码": sizes[(k/len(colors))%len(sizes)]}
			specJSON, err := json.Marshal(specs)
			if err != nil {
				return nil, err
			}
			if len(sa) > 0 {
				skus.WriteByte(',')
			}
			skus.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
			sa = append(sa, int64(i*skusPer+k+1), id, fmt.Sprintf("B%06d-%d", i+1, k+1), string(specJSON), catalog.SpecText(specs),
				price, price+1000, int64(1000), int64(0), "", k, now, now)
		}
		if len(pa) > 0 {
			prods.WriteByte(',')
		}
		prods.WriteString("(?,?,?,?,?,?,?,?,?,?,?,?,?)")
		pa = append(pa, id, leaves[i%len(leaves)], title, "压测商品", fmt.Sprintf(`["https://img.example.com/p/%d.jpg"]`, i+1),
			"<p>压测商品描述</p>", true, minPrice, int64(0), int64(0), int64(0), now, now)
		for _, t := range catalog.TitleTokens(title) {
			toks = append(toks, tokenRow{t, id})
		}
	}
	w := d.Writer(ctx)
	if err := w.Exec(prods.String(), pa...).Error; err != nil {
		return nil, err
	}
	return toks, w.Exec(skus.String(), sa...).Error
}

func ptr[T any](v T) *T { return &v }

func jsonBody(v any) ([]byte, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	// Pad to exactly 1 KB so the ceiling is comparable across runs.
	if len(b) > 1024 {
		return nil, fmt.Errorf("bare body is %d bytes, over 1 KB", len(b))
	}
	return append(b[:len(b)-1], []byte(`,"pad":"`+strings.Repeat("x", 1024-len(b)-9)+`"}`)...), nil
}

// demoEnv reads a running demo server's categories and products and prints
// the variables the wrk scripts need.
func demoEnv(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("demo-env", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:18080", "server under test")
	if err := fs.Parse(args); err != nil {
		return err
	}
	type node struct {
		ID       int64  `json:"id"`
		Children []node `json:"children"`
	}
	var tree []node
	if err := getJSON(*base+"/api/v1/categories", &tree); err != nil {
		return err
	}
	var ids []string
	var walk func([]node)
	walk = func(ns []node) {
		for _, n := range ns {
			ids = append(ids, strconv.FormatInt(n.ID, 10))
			walk(n.Children)
		}
	}
	walk(tree)
	var list struct {
		Items []struct {
			ID int64 `json:"id"`
		} `json:"items"`
	}
	if err := getJSON(*base+"/api/v1/products?page_size=100", &list); err != nil {
		return err
	}
	var maxID int64
	for _, it := range list.Items {
		maxID = max(maxID, it.ID)
	}
	if maxID == 0 || len(ids) == 0 {
		return errors.New("the demo catalog is empty")
	}
	fmt.Fprintf(stdout, "BENCH_PRODUCTS=%d\nBENCH_CATEGORY_IDS=%s\nBENCH_QUERIES=%s\n", maxID, strings.Join(ids, ","), strings.Join(queries(), ","))
	return nil
}

func getJSON(u string, v any) error {
	resp, err := http.Get(u)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}

// tokensOnly mints access tokens for customers 1..n of an already seeded
// database, for a server started by hand with the given secret.
func tokensOnly(args []string) error {
	fs := flag.NewFlagSet("tokens", flag.ContinueOnError)
	secret := fs.String("secret", "", "MINIMALL_JWT_SECRET of the server under test")
	customers := fs.Int("customers", 500, "customers 1..n")
	out := fs.String("tokens", "tokens.txt", "file receiving one customer access token a line")
	if err := fs.Parse(args); err != nil {
		return err
	}
	toks, err := auth.NewTokens(*secret, clock.System{})
	if err != nil {
		return err
	}
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	defer f.Close()
	for c := 1; c <= *customers; c++ {
		tok, _, err := toks.IssueCustomer(int64(c), "wechat")
		if err != nil {
			return err
		}
		fmt.Fprintln(f, tok)
	}
	return nil
}

// warm reads every product page 1..n once, c at a time, so that a measured
// run starts from a cache that has seen the whole catalog (as a shop that
// has been open for a while has), and prints how long it took.
func warm(ctx context.Context, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("warm", flag.ContinueOnError)
	base := fs.String("url", "http://127.0.0.1:18080", "server under test")
	n := fs.Int("products", 10000, "products 1..n")
	c := fs.Int("conns", 16, "requests in flight")
	if err := fs.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: *c}, Timeout: 30 * time.Second}
	start := time.Now()
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range *c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				id := next.Add(1)
				if id > int64(*n) {
					return
				}
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, *base+"/api/v1/products/"+strconv.FormatInt(id, 10), nil)
				if err != nil {
					failed.Add(1)
					continue
				}
				resp, err := client.Do(req)
				if err != nil {
					failed.Add(1)
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	el := time.Since(start)
	fmt.Fprintf(stdout, "warmed %d product pages in %s (%.0f/s)\n", *n, el.Round(time.Millisecond), float64(*n)/el.Seconds())
	if f := failed.Load(); f > 0 {
		return fmt.Errorf("%d of %d warm-up reads failed", f, *n)
	}
	return nil
}
