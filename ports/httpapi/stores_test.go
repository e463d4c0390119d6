package httpapi_test

import (
	"testing"

	"allocation/config"
)

// extraStores adds the durable configurations when they are available.
func extraStores(t *testing.T, base config.Config) []config.Config {
	return nil
}
