package tests

import (
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// launchWaiting starts the binary on a port chosen here (the service logs
// its address only once started, and these tests talk to it before) and
// waits until the port answers /healthz 200 while /readyz answers 503.
func launchWaiting(t *testing.T, env map[string]string) *testenv.Service {
	t.Helper()
	addr := testenv.FreeAddr(t)
	p := launchService(t, merge(env, map[string]string{"HTTP_ADDR": addr}))
	p.URL = "http://" + addr
	testenv.Eventually(t, 30*time.Second, "/healthz 200 during start-up", func() bool {
		if p.HasExited() {
			t.Fatalf("the service exited during start-up: %v\n%s", p.ExitErr, p.Logs.String())
		}
		return timedCall("GET", p.URL+"/healthz", "").status == http.StatusOK
	})
	return p
}

// checkWaitingFor waits until /readyz says start-up waits for what, and
// checks that meanwhile the process is alive and other calls answer 503.
func checkWaitingFor(t *testing.T, p *testenv.Service, what string) {
	t.Helper()
	testenv.Eventually(t, 30*time.Second, "/readyz 503 naming "+what, func() bool {
		if p.HasExited() {
			t.Fatalf("the service exited before /readyz named %s: %v\n%s", what, p.ExitErr, p.Logs.String())
		}
		r := timedCall("GET", p.URL+"/readyz", "")
		if r.status == http.StatusOK {
			t.Fatalf("/readyz 200 while %s is unreachable", what)
		}
		return r.unavailableBecauseOf(what) == ""
	})
	if r := timedCall("GET", p.URL+"/healthz", ""); r.status != http.StatusOK {
		t.Errorf("/healthz during start-up = %d %s (%v), want 200", r.status, r.body, r.err)
	}
	if r := timedCall("POST", p.URL+"/allocate", `{"orderid":"o","sku":"s","qty":1}`); r.unavailableBecauseOf(what) != "" {
		t.Errorf("POST /allocate during start-up: %s", r.unavailableBecauseOf(what))
	}
}

// waitingLines counts start-up's "waiting for dependencies" lines that
// name what.
func waitingLines(p *testenv.Service, what string) int {
	n := 0
	for _, line := range strings.Split(p.Logs.String(), "\n") {
		if strings.Contains(line, `msg="waiting for dependencies"`) && strings.Contains(line, "unreachable="+what) {
			n++
		}
	}
	return n
}

// Issue 13, points 5 and 7: PostgreSQL accepts connections and never
// answers. Start-up keeps the port open (/healthz 200, /readyz and the API
// 503 naming postgres), tries again with a log line per attempt, and gives
// up at STARTUP_TIMEOUT with a non-zero exit and a message naming postgres.
func TestStartupAgainstAFrozenPostgresGivesUpAtStartupTimeout(t *testing.T) {
	const startupTimeout, databaseTimeout = 3 * time.Second, time.Second
	frozen := startSilentListener(t)
	binary.Path(t) // built before the clock starts
	launched := time.Now()
	p := launchWaiting(t, map[string]string{
		"STORE": "postgres", "BROKER": "sql", "DATABASE_URL": frozen.url(),
		"STARTUP_TIMEOUT": startupTimeout.String(), "DATABASE_TIMEOUT": databaseTimeout.String(), "LOG_LEVEL": "info",
	})
	checkWaitingFor(t, p, "postgres")
	// Bound: the start-up deadline, an attempt begun just before it, and
	// the race detector's slower start.
	bound := startupTimeout + databaseTimeout + 4*time.Second
	code := p.Wait(time.Until(launched.Add(bound)))
	took := time.Since(launched)
	logs := p.Logs.String()
	if code == 0 {
		t.Errorf("exit code 0 after giving up, want non-zero")
	}
	if !regexp.MustCompile(`could not reach postgres within STARTUP_TIMEOUT \(3s\)`).MatchString(logs) {
		t.Errorf("no line saying postgres could not be reached within STARTUP_TIMEOUT:\n%s", logs)
	}
	if n := waitingLines(p, "postgres"); n < 2 {
		t.Errorf("%d waiting lines naming postgres, want one per attempt (at least 2 in 3 s)", n)
	}
	if frozen.connections() < 2 {
		t.Errorf("%d connection attempts to the frozen database, want at least 2", frozen.connections())
	}
	t.Logf("exited %d after %s, %d attempts", code, took.Round(time.Millisecond), waitingLines(p, "postgres"))
}

// Issue 13, point 5: SIGTERM ends start-up at any point, also while it
// waits for a frozen PostgreSQL to answer a connection (DATABASE_TIMEOUT
// 10 s: SIGTERM must not wait for it) and between attempts.
func TestSIGTERMEndsStartupWaitingForAFrozenPostgres(t *testing.T) {
	for _, c := range []struct {
		name string
		env  map[string]string
		// waiting holds once start-up is where the case wants it.
		waiting func(p *testenv.Service, frozen *silentListener) bool
	}{
		{"while connecting", map[string]string{"DATABASE_TIMEOUT": "10s"}, func(p *testenv.Service, frozen *silentListener) bool {
			return frozen.connections() >= 1
		}},
		{"after failed attempts", map[string]string{"DATABASE_TIMEOUT": "300ms"}, func(p *testenv.Service, frozen *silentListener) bool {
			return waitingLines(p, "postgres") >= 3
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			frozen := startSilentListener(t)
			p := launchWaiting(t, merge(c.env, map[string]string{
				"STORE": "postgres", "BROKER": "sql", "DATABASE_URL": frozen.url(), "LOG_LEVEL": "info",
			}))
			testenv.Eventually(t, 30*time.Second, "start-up waiting for the frozen database", func() bool { return c.waiting(p, frozen) })
			signalled := time.Now()
			p.Signal(syscall.SIGTERM)
			code := p.Wait(5 * time.Second)
			took := time.Since(signalled)
			if code != 0 {
				t.Errorf("exit code %d after SIGTERM during start-up, want 0", code)
			}
			if !strings.Contains(p.Logs.String(), "start-up interrupted") {
				t.Errorf("no line saying start-up was interrupted:\n%s", p.Logs.String())
			}
			t.Logf("exited %d %s after SIGTERM", code, took.Round(time.Millisecond))
		})
	}
}

// Issue 13, point 7: start-up with PostgreSQL refusing connections waits
// for it (a log line per attempt, /readyz 503 naming it), and once it
// answers the service starts and serves, without a restart.
func TestStartupWaitsForAPostgresThatComesLate(t *testing.T) {
	onEachPostgresBroker(t, func(t *testing.T, broker string) {
		pg := newProxiedDatabase(t)
		pg.proxy.Stop()
		p := launchWaiting(t, postgresEnv(t, broker, pg.url))
		checkWaitingFor(t, p, "postgres")
		testenv.Eventually(t, 30*time.Second, "two attempts logged", func() bool { return waitingLines(p, "postgres") >= 2 })
		if strings.Contains(p.Logs.String(), "unreachable=redis") {
			t.Errorf("start-up named redis, which was there all along")
		}

		pg.proxy.Start()
		back := time.Now()
		// Bound: the longest pause between attempts (5 s), then
		// migrations and start-up on the race detector.
		testenv.Eventually(t, 20*time.Second, "the service ready once postgres is back", func() bool {
			if p.HasExited() {
				t.Fatalf("the service exited: %v\n%s", p.ExitErr, p.Logs.String())
			}
			return p.Started() && timedCall("GET", p.URL+"/readyz", "").status == http.StatusOK
		})
		t.Logf("ready %s after postgres came back, after %d waiting lines", time.Since(back).Round(time.Millisecond), waitingLines(p, "postgres"))
		sku := "late-" + watermill.NewShortUUID()
		addBatch(t, p.URL, "b-"+sku, sku, 5, "")
		if r := post(t, p.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":1}`); r.Status != http.StatusCreated {
			t.Fatalf("allocate after a late start = %d %s", r.Status, r.Body)
		}
		testenv.Eventually(t, 30*time.Second, "the allocation in the read model", func() bool {
			r := timedCall("GET", p.URL+"/allocations/o-"+sku, "")
			return r.status == http.StatusOK && strings.Contains(r.body, "b-"+sku)
		})
	})
}
