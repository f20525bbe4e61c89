package customer_test

import (
	"github.com/minimall/minimall/internal/sandbox"
	"os"
	"sync"
	"testing"

	"github.com/minimall/minimall/internal/platform/dbtest"
)

func TestMain(m *testing.M) { os.Exit(dbtest.Main(m)) }

// sandboxKeys are generated once for the package's tests and passed in
// sandbox.Options.Keys: RSA key generation is most of what sandbox.New costs.
var sandboxKeys = sync.OnceValues(sandbox.NewKeys)
