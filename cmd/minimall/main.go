// Command minimall is the shop backend: the API server, its migrations, demo
// data and the local platform sandbox.
package main

import (
	"context"
	"fmt"
	"os"
	// Platform timestamps are Beijing time; static images ship no zoneinfo.
	_ "time/tzdata"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "minimall:", err)
		os.Exit(1)
	}
}
