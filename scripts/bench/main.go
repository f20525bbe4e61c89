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
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/minimall/minimall/internal/audit"
	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/cart"
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
		return errors.New("usage: bench seed|bare|demo-env|tokens [flags]")
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

	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, *workers)
	for w := 0; w < *workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= *products {
					return
				}
				in := catalog.ProductInput{
					CategoryID:  leaves[i%len(leaves)],
					Title:       fmt.Sprintf("%s%s%s %d号", brands[i%len(brands)], adjs[(i/len(brands))%len(adjs)], nouns[(i/7)%len(nouns)], i+1),
					Subtitle:    "压测商品",
					Images:      []string{fmt.Sprintf("https://img.example.com/p/%d.jpg", i+1)},
					Description: "<p>压测商品描述</p>",
				}
				for k := 0; k < *skusPer; k++ {
					in.SKUs = append(in.SKUs, catalog.SKUInput{
						Code:             fmt.Sprintf("B%06d-%d", i+1, k+1),
						Specs:            map[string]string{"颜色": colors[k%len(colors)], "尺码": sizes[(k/len(colors))%len(sizes)]},
						PriceFen:         int64(990 + (i*37+k*100)%50000),
						OriginalPriceFen: int64(990 + (i*37+k*100)%50000 + 1000),
						Stock:            1000,
					})
				}
				if _, err := cat.CreateProduct(ctx, staff, in, true); err != nil {
					errs <- fmt.Errorf("product %d: %w", i+1, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "seeded %d products with %d SKUs each in %s\n", *products, *skusPer, time.Since(start).Round(time.Millisecond))

	cartStore, err := cart.NewStore(d)
	if err != nil {
		return err
	}
	carts, err := cart.NewService(d, cartStore, cat, clk)
	if err != nil {
		return err
	}
	toks, err := auth.NewTokens(*secret, clk)
	if err != nil {
		return err
	}
	f, err := os.Create(*tokens)
	if err != nil {
		return err
	}
	defer f.Close()
	totalSKUs := int64(*products * *skusPer)
	for c := 1; c <= *customers; c++ {
		for l := 0; l < *lines; l++ {
			sku := (int64(c)*7919+int64(l)*104729)%totalSKUs + 1
			if _, err := carts.Add(ctx, int64(c), sku, 1); err != nil {
				return fmt.Errorf("cart of customer %d: %w", c, err)
			}
		}
		tok, _, err := toks.IssueCustomer(int64(c), "wechat")
		if err != nil {
			return err
		}
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
