package tests

import (
	"net/http"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// /readyz turns 503, naming the dependency, while PostgreSQL or Redis is
// unreachable, and 200 again when it is back; /healthz stays 200 all along.
// The service reaches both through proxies the test can cut.
func TestReadinessFollowsTheDatabaseAndRedis(t *testing.T) {
	pg, databaseURL, _ := testenv.ProxiedDatabase(t)
	rd := testenv.StartProxy(t, testenv.RedisAddr(t))
	p := startService(t, map[string]string{
		"STORE": "postgres", "BROKER": "redis", "DATABASE_URL": databaseURL,
		"REDIS_ADDR": rd.Addr(), "TOPIC_PREFIX": testenv.TopicPrefix(), "LOG_LEVEL": "info",
	})
	for _, c := range []struct {
		name  string
		proxy *testenv.Proxy
	}{{"postgres", pg}, {"redis", rd}} {
		c.proxy.Stop()
		testenv.Eventually(t, 30*time.Second, "readyz 503 naming "+c.name, func() bool {
			return timedCall("GET", p.URL+"/readyz", "").notReadyBecauseOf(c.name) == ""
		})
		if r := get(t, p.URL+"/healthz"); r.Status != http.StatusOK {
			t.Fatalf("healthz = %d while %s is away", r.Status, c.name)
		}
		c.proxy.Start()
		testenv.Eventually(t, 30*time.Second, "readyz 200 after "+c.name+" is back", p.Ready)
	}
	// And the service works again.
	sku := "back-" + watermill.NewShortUUID()
	addBatch(t, p.URL, "b-"+sku, sku, 5, "")
	testenv.Eventually(t, 30*time.Second, "an allocation after the outage", func() bool {
		return post(t, p.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":1}`).Status == http.StatusCreated
	})
}
