package app_test

import (
	"github.com/minimall/minimall/internal/sandbox"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/minimall/minimall/internal/app"
	"github.com/minimall/minimall/internal/platform/clock"
	"github.com/minimall/minimall/internal/platform/config"
	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)

// newTestApp builds the application on a fresh SQLite database with the
// default configuration.
func newTestApp(t *testing.T) *app.App {
	t.Helper()
	cfg, err := config.Load("", func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	a, err := app.New(cfg, dbtest.SQLite(t), slog.New(slog.NewTextHandler(io.Discard, nil)),
		clock.NewFake(time.Date(2026, 11, 1, 2, 0, 0, 0, time.UTC)))
	if err != nil {
		t.Fatal(err)
	}
	return a
}
