package tests

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// /readyz turns 503, naming the dependency, while PostgreSQL or Redis is
// unreachable, and 200 again when it is back; /healthz stays 200 all along.
// The service reaches both through proxies the test can cut.
func TestReadinessFollowsTheDatabaseAndRedis(t *testing.T) {
	databaseURL := testenv.DatabaseURL(t)
	pg := startTCPProxy(t, "127.0.0.1:5432")
	rd := startTCPProxy(t, testenv.RedisAddr(t))
	u, err := url.Parse(databaseURL)
	if err != nil {
		t.Fatal(err)
	}
	if u.Host != "127.0.0.1:5432" {
		t.Skipf("the proxy expects the test database at 127.0.0.1:5432, not %s", u.Host)
	}
	u.Host = pg.addr
	p := startService(t, binary.get(t), map[string]string{
		"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": u.String(),
		"REDIS_ADDR": rd.addr, "TOPIC_PREFIX": testenv.TopicPrefix(), "LOG_LEVEL": "info",
	})

	readiness := func() (int, string) {
		r := get(t, p.URL+"/readyz")
		return r.Status, string(r.Body)
	}
	for _, c := range []struct {
		name  string
		proxy *tcpProxy
	}{{"postgres", pg}, {"redis", rd}} {
		c.proxy.stop()
		waitUntil(t, 30*time.Second, "readyz 503 naming "+c.name, func() bool {
			status, body := readiness()
			var parsed map[string]any
			_ = json.Unmarshal([]byte(body), &parsed)
			msg, _ := parsed["message"].(string)
			return status == http.StatusServiceUnavailable && strings.Contains(msg, c.name)
		})
		if r := get(t, p.URL+"/healthz"); r.Status != http.StatusOK {
			t.Fatalf("healthz = %d while %s is away", r.Status, c.name)
		}
		c.proxy.start()
		waitUntil(t, 30*time.Second, "readyz 200 after "+c.name+" is back", func() bool {
			status, _ := readiness()
			return status == http.StatusOK
		})
	}
	// And the service works again.
	sku := "back-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 5, "")
	waitUntil(t, 30*time.Second, "an allocation after the outage", func() bool {
		return post(t, p.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":1}`).Status == http.StatusCreated
	})
}
