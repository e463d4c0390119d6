package tests

import (
	"os"
	"testing"

	"allocation/tests/testenv"
)

// binary is the service under test, built once for the run.
var binary = &testenv.Binary{Package: "allocation/cmd/allocation"}

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
	binary.Remove()
	os.Exit(code)
}

// startService starts the binary with env and waits until it is ready.
func startService(t *testing.T, env map[string]string) *testenv.Service {
	t.Helper()
	return testenv.StartService(t, binary.Path(t), env)
}

// launchService starts the binary with env without waiting for it.
func launchService(t *testing.T, env map[string]string) *testenv.Service {
	t.Helper()
	return testenv.LaunchService(t, binary.Path(t), env)
}
