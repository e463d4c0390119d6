package tests

import (
	"bytes"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/ThreeDotsLabs/watermill"

	"allocation/tests/testenv"
)

// On every broker: an out-of-stock notification that fails while the mail
// relay is down is retried, parked, listed by "allocation poison list",
// and once the relay is back "allocation poison replay" sends it again,
// it is mailed, and the queue no longer holds it.
func TestPoisonListAndReplayWithTheCLI(t *testing.T) {
	bin := binary.Path(t)
	for _, setup := range brokerSetups {
		if setup.name == "memory" {
			continue // in-process: covered by ports/httpapi's poison round trip
		}
		t.Run(setup.name, func(t *testing.T) {
			smtpAddr := testenv.FreeAddr(t)
			svc := setup.start(t, map[string]string{
				"SMTP_ADDR": smtpAddr, "RETRY_MAX": "1", "RETRY_INITIAL_INTERVAL": "1ms",
			})
			sku := "scarce-" + watermill.NewShortUUID()
			addBatch(t, svc.URL, "b-"+sku, sku, 1, "")
			if r := post(t, svc.URL+"/allocate", `{"orderid":"o-`+sku+`","sku":"`+sku+`","qty":5}`); r.Status != 409 {
				t.Fatalf("allocate = %d %s", r.Status, r.Body)
			}
			cli := func(args ...string) string {
				t.Helper()
				var out, errOut bytes.Buffer
				cmd := exec.Command(bin, append([]string{"poison"}, append(args, "--service-url", svc.URL)...)...)
				cmd.Stdout, cmd.Stderr = &out, &errOut
				if err := cmd.Run(); err != nil {
					t.Fatalf("allocation poison %v: %v\n%s", args, err, errOut.String())
				}
				return out.String()
			}
			var id string
			testenv.Eventually(t, 60*time.Second, "the notification in the poison list", func() bool {
				for _, line := range strings.Split(cli("list"), "\n") {
					if strings.Contains(line, "NotifyOutOfStock") && strings.Contains(line, sku) {
						id = strings.Fields(line)[0]
						return strings.Contains(line, "connection refused")
					}
				}
				return false
			})

			relay := testenv.StartFakeSMTP(t, smtpAddr)
			if out := cli("replay", "--id", id); !strings.Contains(out, "replayed "+id) {
				t.Fatalf("replay said %q", out)
			}
			testenv.Eventually(t, 60*time.Second, "the replayed notification to be mailed", func() bool {
				for _, m := range relay.Received() {
					if strings.Contains(m, "Out of stock for "+sku) {
						return true
					}
				}
				return false
			})
			if out := cli("list"); strings.Contains(out, sku) {
				t.Fatalf("replayed message still listed:\n%s", out)
			}
		})
	}
}
