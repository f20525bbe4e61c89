// Command checkoutbench drives checkout (POST /api/v1/orders) over loopback
// with many customers at once, spread over every SKU or all on one hot SKU,
// and then checks stock conservation in the database: stock plus the units
// of live (not cancelled) orders must be what it was before the run.
// scripts/bench-checkout.sh runs it against a seeded MySQL database.
package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	_ "github.com/go-sql-driver/mysql"

	"github.com/minimall/minimall/internal/auth"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/db"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "checkoutbench:", err)
		os.Exit(1)
	}
}

type options struct {
	url       string
	dsn       string
	secret    string
	customers int
	conns     int
	duration  time.Duration
	mode      string
	hotStock  int64
	readers   int
	dbConns   int
	ceiling   bool
	warm      bool
}

func run(ctx context.Context, args []string, stdout io.Writer) error {
	var o options
	fs := flag.NewFlagSet("checkoutbench", flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:18080", "server under test")
	fs.StringVar(&o.dsn, "dsn", "", "MySQL DSN of the server's database (stock checks)")
	fs.StringVar(&o.secret, "secret", "", "MINIMALL_JWT_SECRET of the server")
	fs.IntVar(&o.customers, "customers", 2000, "distinct customers")
	fs.IntVar(&o.conns, "conns", 32, "concurrent connections")
	fs.DurationVar(&o.duration, "duration", 15*time.Second, "measured time")
	fs.StringVar(&o.mode, "mode", "spread", "spread (a random SKU per order) or hot (every order on one SKU)")
	fs.Int64Var(&o.hotStock, "hot-stock", 1_000_000, "stock given to the hot SKU before a hot run")
	fs.IntVar(&o.readers, "readers", 0, "hot mode: connections reading the hot product's public page during the run, to count its reloads on /metrics")
	fs.IntVar(&o.dbConns, "db-conns", db.DefaultMaxOpenConns(), "database connections of the ceiling client (the server's pool: db.DefaultMaxOpenConns)")
	fs.BoolVar(&o.ceiling, "ceiling", true, "first measure the database's ceiling for the checkout transaction from a plain Go client")
	fs.BoolVar(&o.warm, "warm", true, "before the timed run, place one untimed order per customer, so the run measures customers who have ordered before (a customer's first checkout also creates its guard row)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.mode != "spread" && o.mode != "hot" {
		return fmt.Errorf("unknown mode %q", o.mode)
	}
	ctx, cancel := context.WithTimeout(ctx, o.duration+5*time.Minute)
	defer cancel()

	conn, err := sql.Open("mysql", mustDSN(o.dsn))
	if err != nil {
		return err
	}
	defer conn.Close()

	var skus []int64
	if err := scanInts(ctx, conn, &skus, "SELECT id FROM skus WHERE deleted_at IS NULL ORDER BY id"); err != nil {
		return err
	}
	if len(skus) == 0 {
		return errors.New("no SKUs: seed the database first")
	}
	hot := skus[0]
	if o.mode == "hot" {
		if _, err := conn.ExecContext(ctx, "UPDATE skus SET stock = ? WHERE id = ?", o.hotStock, hot); err != nil {
			return err
		}
	}

	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.conns * 2, MaxConnsPerHost: o.conns * 2}, Timeout: 30 * time.Second}
	custs, err := prepareCustomers(ctx, client, o)
	if err != nil {
		return err
	}
	if o.warm {
		if err := warm(ctx, client, o, custs, skus); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	meter := newCPUMeter(ctx, conn, client, o.url)
	var ceil float64
	if o.ceiling {
		if ceil, err = ceiling(ctx, o, skus, hot, meter, stdout); err != nil {
			return fmt.Errorf("ceiling: %w", err)
		}
	}
	before, err := conservation(ctx, conn)
	if err != nil {
		return err
	}

	var hotProduct int64
	if o.mode == "hot" {
		if err := conn.QueryRowContext(ctx, "SELECT product_id FROM skus WHERE id = ?", hot).Scan(&hotProduct); err != nil {
			return err
		}
	}
	loadsBefore, err := metric(ctx, client, o.url, "minimall_catalog_cache_detail_loads_total")
	if err != nil {
		return err
	}
	var (
		ok, short, failed atomic.Int64
		mu                sync.Mutex
		latencies         []time.Duration
		wg                sync.WaitGroup
	)
	cpuBefore := meter.read(ctx)
	start := time.Now()
	deadline := start.Add(o.duration)
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			local := make([]time.Duration, 0, 4096)
			for time.Now().Before(deadline) {
				c := custs[rand.IntN(len(custs))]
				sku := hot
				if o.mode == "spread" {
					sku = skus[rand.IntN(len(skus))]
				}
				body := fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1}]}`, c.address, sku)
				t0 := time.Now()
				status, err := post(ctx, client, o.url+"/api/v1/orders", c.token, body, nil)
				local = append(local, time.Since(t0))
				switch {
				case err != nil:
					failed.Add(1)
				case status == http.StatusCreated:
					ok.Add(1)
				case status == http.StatusConflict:
					short.Add(1)
				default:
					failed.Add(1)
				}
			}
			mu.Lock()
			latencies = append(latencies, local...)
			mu.Unlock()
		}()
	}
	var reads, readErrors atomic.Int64
	if o.mode == "hot" {
		for range o.readers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				page := o.url + "/api/v1/products/" + strconv.FormatInt(hotProduct, 10)
				for time.Now().Before(deadline) {
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, page, nil)
					if err != nil {
						readErrors.Add(1)
						continue
					}
					resp, err := client.Do(req)
					if err != nil {
						readErrors.Add(1)
						continue
					}
					_, _ = io.Copy(io.Discard, resp.Body)
					_ = resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						readErrors.Add(1)
					}
					reads.Add(1)
				}
			}()
		}
	}
	wg.Wait()
	elapsed := time.Since(start)
	cpuAfter := meter.read(ctx)
	loadsAfter, err := metric(ctx, client, o.url, "minimall_catalog_cache_detail_loads_total")
	if err != nil {
		return err
	}

	after, err := conservation(ctx, conn)
	if err != nil {
		return err
	}
	var flush, syncBinlog, logBin string
	_ = conn.QueryRowContext(ctx, "SELECT @@innodb_flush_log_at_trx_commit, @@sync_binlog, @@log_bin").Scan(&flush, &syncBinlog, &logBin)

	slices.Sort(latencies)
	pct := func(p float64) string {
		if len(latencies) == 0 {
			return "-"
		}
		return fmt.Sprintf("%.1f", float64(latencies[int(p*float64(len(latencies)-1))].Microseconds())/1000)
	}
	fmt.Fprintf(stdout, "mode=%s conns=%d customers=%d duration=%s skus=%d\n", o.mode, o.conns, len(custs), o.duration, len(skus))
	rate := float64(ok.Load()) / elapsed.Seconds()
	fmt.Fprintf(stdout, "orders/s=%.0f orders=%d out_of_stock=%d errors=%d p50_ms=%s p99_ms=%s\n",
		rate, ok.Load(), short.Load(), failed.Load(), pct(0.50), pct(0.99))
	fmt.Fprintln(stdout, "  shop "+perTxn(cpuBefore, cpuAfter, ok.Load()))
	if ceil > 0 {
		fmt.Fprintf(stdout, "ratio to the database ceiling: %.2f (%.0f / %.0f)\n", rate/ceil, rate, ceil)
	}
	if o.mode == "hot" && o.readers > 0 {
		loads := loadsAfter - loadsBefore
		fmt.Fprintf(stdout, "hot product %d page: reads=%d read_errors=%d reloads=%.0f (one per %.2f s; minimall_catalog_cache_detail_loads_total)\n",
			hotProduct, reads.Load(), readErrors.Load(), loads, elapsed.Seconds()/max(loads, 1))
	}
	fmt.Fprintf(stdout, "durability: innodb_flush_log_at_trx_commit=%s sync_binlog=%s log_bin=%s\n", flush, syncBinlog, logBin)
	fmt.Fprintf(stdout, "stock conservation: before stock+live units=%d, after=%d", before, after)
	if before != after {
		fmt.Fprintln(stdout, "  VIOLATED")
		return errors.New("stock conservation violated")
	}
	fmt.Fprintln(stdout, "  ok")
	return nil
}

type customer struct {
	token   string
	address int64
}

// prepareCustomers mints a token per customer and gives each an address
// through the API, as a mini-program would.
func prepareCustomers(ctx context.Context, client *http.Client, o options) ([]customer, error) {
	toks, err := auth.NewTokens(o.secret, clock.System{})
	if err != nil {
		return nil, err
	}
	out := make([]customer, o.customers)
	var next atomic.Int64
	var wg sync.WaitGroup
	errs := make(chan error, o.conns)
	for w := 0; w < o.conns; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= o.customers {
					return
				}
				// Customers of this run live above the ids other runs use.
				tok, _, err := toks.IssueCustomer(int64(1_000_000+i), "wechat")
				if err != nil {
					errs <- err
					return
				}
				var addr struct {
					ID int64 `json:"id"`
				}
				body := `{"name":"压测","phone":"13800138000","province":"浙江省","city":"杭州市","district":"西湖区","detail":"文三路 ` + strconv.Itoa(i) + ` 号","is_default":true}`
				status, err := post(ctx, client, o.url+"/api/v1/addresses", tok, body, &addr)
				if err != nil || status != http.StatusCreated {
					errs <- fmt.Errorf("address of customer %d: status %d: %v", i, status, err)
					return
				}
				out[i] = customer{token: tok, address: addr.ID}
			}
		}()
	}
	wg.Wait()
	close(errs)
	if err := <-errs; err != nil {
		return nil, err
	}
	return out, nil
}

// warm places one order per customer on a random SKU, o.conns at a time,
// untimed; stock conservation counts these orders like any other.
func warm(ctx context.Context, client *http.Client, o options, custs []customer, skus []int64) error {
	var next atomic.Int64
	var failed atomic.Int64
	var wg sync.WaitGroup
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(custs) {
					return
				}
				c := custs[i]
				body := fmt.Sprintf(`{"address_id":%d,"items":[{"sku_id":%d,"quantity":1}]}`, c.address, skus[rand.IntN(len(skus))])
				if status, err := post(ctx, client, o.url+"/api/v1/orders", c.token, body, nil); err != nil || status != http.StatusCreated {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	if n := failed.Load(); n > 0 {
		return fmt.Errorf("%d of %d warm-up orders failed", n, len(custs))
	}
	return nil
}

// ceiling measures what the database itself sustains for the checkout
// transaction's shape, in this run, from a plain Go client: o.conns workers
// over o.dbConns connections (the server's pool) with the server's DSN
// settings, each transaction inserting an order, its item and its first
// event and taking the stock with the guarded decrement, then committing.
// The SKU is random (spread) or the hot one, as in the run that follows.
// Its orders are live orders with stock taken, so stock conservation holds.
func ceiling(ctx context.Context, o options, skus []int64, hot int64, meter cpuMeter, stdout io.Writer) (float64, error) {
	dsn, err := db.MySQLConnDSN(ctx, o.dsn)
	if err != nil {
		return 0, err
	}
	c, err := sql.Open("mysql", dsn)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetMaxOpenConns(o.dbConns)
	c.SetMaxIdleConns(o.dbConns)
	products := map[int64]int64{}
	rows, err := c.QueryContext(ctx, "SELECT id, product_id FROM skus")
	if err != nil {
		return 0, err
	}
	for rows.Next() {
		var id, p int64
		if err := rows.Scan(&id, &p); err != nil {
			rows.Close()
			return 0, err
		}
		products[id] = p
	}
	rows.Close()
	var done, failed atomic.Int64
	var wg sync.WaitGroup
	cpuBefore := meter.read(ctx)
	start := time.Now()
	deadline := start.Add(o.duration)
	prefix := fmt.Sprintf("C%d", start.UnixNano()%1_000_000_000)
	var seq atomic.Int64
	for range o.conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for time.Now().Before(deadline) {
				sku := hot
				if o.mode == "spread" {
					sku = skus[rand.IntN(len(skus))]
				}
				if err := ceilingTx(ctx, c, prefix+strconv.FormatInt(seq.Add(1), 10), sku, products[sku]); err != nil {
					failed.Add(1)
					continue
				}
				done.Add(1)
			}
		}()
	}
	wg.Wait()
	rate := float64(done.Load()) / time.Since(start).Seconds()
	cpuAfter := meter.read(ctx)
	fmt.Fprintf(stdout, "ceiling (plain Go client, %d workers over %d connections, insert order + item + event, guarded stock decrement, commit): txn/s=%.0f txns=%d errors=%d\n",
		o.conns, o.dbConns, rate, done.Load(), failed.Load())
	fmt.Fprintln(stdout, "  ceiling "+perTxn(cpuBefore, cpuAfter, done.Load()))
	return rate, nil
}

func ceilingTx(ctx context.Context, c *sql.DB, orderNo string, sku, product int64) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := time.Now().UTC()
	res, err := tx.ExecContext(ctx, `INSERT INTO orders (order_no, customer_id, status, goods_fen, freight_fen, total_fen,
		address_id, ship_name, ship_phone, ship_province, ship_city, ship_district, ship_detail, pay_deadline, created_at, updated_at)
		VALUES (?, ?, 'pending_payment', 100, 0, 100, 1, '压测', '13800138000', '浙江省', '杭州市', '西湖区', '文三路 1 号', ?, ?, ?)`,
		orderNo, 2_000_000+rand.Int64N(2000), now.Add(30*time.Minute), now, now)
	if err != nil {
		return err
	}
	id, err := res.LastInsertId()
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_items (order_id, sku_id, product_id, title, price_fen, quantity, subtotal_fen, created_at)
		VALUES (?, ?, ?, '压测商品', 100, 1, 100, ?)`, id, sku, product, now); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO order_events (order_id, to_status, actor_type, actor_id, reason, created_at)
		VALUES (?, 'pending_payment', 'customer', 0, 'order placed', ?)`, id, now); err != nil {
		return err
	}
	res, err = tx.ExecContext(ctx, "UPDATE skus SET stock = stock - 1 WHERE id = ? AND stock >= 1", sku)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return errors.New("out of stock")
	}
	return tx.Commit()
}

// conservation is the total stock plus the units held by live orders.
func conservation(ctx context.Context, conn *sql.DB) (int64, error) {
	var stock, held sql.NullInt64
	if err := conn.QueryRowContext(ctx, "SELECT SUM(stock) FROM skus").Scan(&stock); err != nil {
		return 0, err
	}
	if err := conn.QueryRowContext(ctx, `SELECT SUM(oi.quantity) FROM order_items oi
		JOIN orders o ON o.id = oi.order_id WHERE o.status <> 'cancelled'`).Scan(&held); err != nil {
		return 0, err
	}
	return stock.Int64 + held.Int64, nil
}

func post(ctx context.Context, client *http.Client, url, token, body string, into any) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewBufferString(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if into != nil && resp.StatusCode < 300 {
		return resp.StatusCode, json.NewDecoder(resp.Body).Decode(into)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// metric reads one sample of the server's /metrics.
func metric(ctx context.Context, client *http.Client, base, name string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return 0, err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, name+" "); ok {
			return strconv.ParseFloat(v, 64)
		}
	}
	return 0, fmt.Errorf("/metrics has no %s", name)
}

func scanInts(ctx context.Context, conn *sql.DB, into *[]int64, query string) error {
	rows, err := conn.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var v int64
		if err := rows.Scan(&v); err != nil {
			return err
		}
		*into = append(*into, v)
	}
	return rows.Err()
}

// mustDSN normalises the DSN the way the server does (parseTime, UTC).
func mustDSN(dsn string) string {
	n, err := db.MySQLDSN(dsn)
	if err != nil {
		return dsn
	}
	return n
}
