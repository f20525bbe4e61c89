package main

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/minimall/minimall/internal/platform/dbtest"
)

// childEnv makes the test binary run `minimall serve` instead of the tests:
// the multi-instance test starts its instances as separate processes of
// the real program without building it again.
const childEnv = "MINIMALL_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "serve" {
		if err := run(context.Background(), []string{"serve"}, os.Getenv, os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "minimall:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(dbtest.Main(m))
}
