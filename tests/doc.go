// Package tests holds black-box and end-to-end tests: they build the real
// binary, run it against real PostgreSQL and Redis, and talk to it only
// through HTTP and the brokers, as another service would.
package tests
