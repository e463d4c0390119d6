package postgres

import "net/url"

// WithSearchPath makes every connection of a database URL use the schema,
// so that several deployments (or test runs) can share one database without
// seeing each other's tables, topics and offsets. lib/pq sends URL
// parameters it does not know as run-time settings.
func WithSearchPath(databaseURL, schema string) string {
	u, err := url.Parse(databaseURL)
	if err != nil || u.Scheme == "" {
		return databaseURL + " search_path=" + schema
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String()
}
