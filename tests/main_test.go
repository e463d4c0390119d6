package tests

import (
	"os"
	"testing"
)

var binary builtBinary

// testAdminToken enables the admin API of every service the tests start:
// binaries and the CLI read it from the environment (a test may give its
// own ADMIN_TOKEN), in-process services from startInProcess, and requests
// to /admin/* made with do carry it.
const testAdminToken = "e2e-admin-token"

func TestMain(m *testing.M) {
	if err := os.Setenv("ADMIN_TOKEN", testAdminToken); err != nil {
		panic(err)
	}
	code := m.Run()
	if binary.path != "" {
		_ = os.RemoveAll(binary.path[:len(binary.path)-len("/allocation")])
	}
	os.Exit(code)
}
