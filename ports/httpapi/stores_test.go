package httpapi_test

import (
	"testing"

	"allocation/config"
	"allocation/tests/testenv"
)

// extraStores adds the durable store: the core HTTP suite runs unchanged on
// PostgreSQL, each test on a schema of its own.
func extraStores(t *testing.T, base config.Config) []config.Config {
	if testenv.SkipIntegration() {
		return nil
	}
	pg := base
	pg.Store = config.StorePostgres
	pg.DatabaseURL = testenv.DatabaseURL(t)
	return []config.Config{pg}
}
