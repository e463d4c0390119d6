package postgres_test

import (
	"context"
	"database/sql"
	neturl "net/url"
	"strings"
	"testing"

	"allocation/adapters/postgres"
	"allocation/tests/testenv"
)

func openOrSkip(t *testing.T, open func(context.Context, string, ...postgres.OpenOption) (*sql.DB, error), url string) *sql.DB {
	t.Helper()
	if testenv.SkipIntegration() {
		t.Skip("SKIP_INTEGRATION=1")
	}
	db, err := open(t.Context(), url)
	if err != nil {
		t.Fatalf("database unreachable (run scripts/ensure-services.sh allocation_test, or set SKIP_INTEGRATION=1): %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

// searchPath is the search_path parameter of a database URL.
func searchPath(t *testing.T, databaseURL string) string {
	t.Helper()
	u, err := neturl.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	return u.Query().Get("search_path")
}

func setting(t *testing.T, db *sql.DB, name string) string {
	t.Helper()
	var value string
	if err := db.QueryRowContext(t.Context(), `SELECT current_setting($1)`, name).Scan(&value); err != nil {
		t.Fatalf("reading %s: %v", name, err)
	}
	return value
}

func TestOpenAsynchronousCommitTurnsOffSynchronousCommitOnItsConnectionsOnly(t *testing.T) {
	url := testenv.DatabaseURL(t)
	schema := searchPath(t, url)
	async := openOrSkip(t, postgres.OpenAsynchronousCommit, url)
	sync := openOrSkip(t, postgres.Open, url)

	if got := setting(t, async, "synchronous_commit"); got != "off" {
		t.Errorf("OpenAsynchronousCommit: synchronous_commit = %q, want off", got)
	}
	if got := setting(t, async, "application_name"); got != postgres.AsynchronousCommitApplicationName {
		t.Errorf("OpenAsynchronousCommit: application_name = %q, want %q", got, postgres.AsynchronousCommitApplicationName)
	}
	if got := setting(t, sync, "synchronous_commit"); got != "on" {
		t.Errorf("Open: synchronous_commit = %q, want on (the server's default)", got)
	}
	// The URL's own run-time parameters still apply.
	for name, db := range map[string]*sql.DB{"OpenAsynchronousCommit": async, "Open": sync} {
		if got := setting(t, db, "search_path"); got != schema {
			t.Errorf("%s: search_path = %q, want the URL's %s", name, got, schema)
		}
	}
}

func TestOpenAsynchronousCommitKeepsTheURLsApplicationName(t *testing.T) {
	url := testenv.BaseDatabaseURL()
	if strings.Contains(url, "?") {
		url += "&application_name=mine"
	} else {
		url += "?application_name=mine"
	}
	async := openOrSkip(t, postgres.OpenAsynchronousCommit, url)
	if got := setting(t, async, "application_name"); got != "mine" {
		t.Errorf("application_name = %q, want the URL's", got)
	}
}
