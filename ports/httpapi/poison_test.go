package httpapi_test

import (
	"strings"
	"testing"
	"time"

	"allocation/config"
	"allocation/tests/testenv"
)

// A notification that fails while the mail relay is down is retried, then
// parked; once the relay is back, replaying it delivers the mail and
// empties the queue.
func TestPoisonListAndReplayRoundTrip(t *testing.T) {
	smtpAddr := testenv.FreeAddr(t)
	withConfig(t, func(c *config.Config) {
		c.SMTPAddr = smtpAddr
		c.RetryMax = 2
		c.RetryInitialInterval = time.Millisecond
	}, func(t *testing.T, a *api) {
		sku := uniq("scarce")
		a.addBatch(uniq("b"), sku, 1, "")
		if r := a.do("POST", "/allocate", `{"orderid":"o1","sku":"`+sku+`","qty":5}`); r.status != 409 {
			t.Fatalf("allocate = %d %v", r.status, r.body)
		}
		var parked map[string]any
		testenv.Eventually(t, 10*time.Second, "the notification to be parked", func() bool {
			for _, p := range a.do("GET", "/admin/poison", "").list {
				if strings.Contains(p["payload"].(string), sku) {
					parked = p
					return true
				}
			}
			return false
		})
		if parked["handler"] != "NotifyOutOfStock" || parked["topic"] != "allocation.events.OutOfStock" ||
			!strings.Contains(parked["reason"].(string), "connection refused") || parked["parked_at"] == "" {
			t.Fatalf("parked = %v", parked)
		}

		relay := testenv.StartFakeSMTP(t, smtpAddr)
		r := a.do("POST", "/admin/poison/replay", `{"ids":["`+parked["id"].(string)+`"]}`)
		if r.status != 200 {
			t.Fatalf("replay = %d %v", r.status, r.body)
		}
		testenv.Eventually(t, 10*time.Second, "the replayed notification to be mailed", func() bool {
			for _, m := range relay.Received() {
				if strings.Contains(m, "Out of stock for "+sku) {
					return true
				}
			}
			return false
		})
		for _, p := range a.do("GET", "/admin/poison", "").list {
			if p["id"] == parked["id"] {
				t.Fatalf("replayed message still parked: %v", p)
			}
		}
	})
}

func TestReplayNeedsIDsOrAll(t *testing.T) {
	forEachStore(t, func(t *testing.T, a *api) {
		if r := a.do("POST", "/admin/poison/replay", `{}`); r.status != 400 {
			t.Errorf("empty replay = %d %v", r.status, r.body)
		}
		if r := a.do("POST", "/admin/poison/replay", `{"ids":["nope-`+uniq("x")+`"]}`); r.status != 404 {
			t.Errorf("unknown id = %d %v", r.status, r.body)
		}
	})
}
