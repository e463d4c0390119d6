package app_test

import (
	"testing"
	"time"

	"allocation/tests/testenv"
)

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	testenv.Eventually(t, 10*time.Second, what, cond)
}
