package tests

import (
	"bytes"
	"errors"
	"os"
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
				code, out, errOut := poisonCLI(t, testAdminToken, append(args, "--service-url", svc.URL)...)
				if code != 0 {
					t.Fatalf("allocation poison %v: exit %d\n%s", args, code, errOut)
				}
				return out
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

// The CLI against the in-process service's admin API: it pages through the
// list, replays everything, and says what is wrong with a missing or wrong
// ADMIN_TOKEN, missing ids and an unreachable service.
func TestPoisonCLIThroughTheAdminAPI(t *testing.T) {
	svc := startInProcess(t, nil)
	// An asynchronous allocation of an unknown sku is parked at once.
	for _, order := range []string{"o1", "o2", "o3"} {
		if r := post(t, svc.URL+"/allocate", `{"orderid":"`+order+`","sku":"NOPE","qty":1}`, "Prefer", "respond-async"); r.Status != 202 {
			t.Fatalf("async allocate = %d %s", r.Status, r.Body)
		}
	}
	if code, _, errOut := poisonCLI(t, "", "list", "--service-url", svc.URL); code != 1 || !strings.Contains(errOut, "401") || !strings.Contains(errOut, "ADMIN_TOKEN") {
		t.Fatalf("list without ADMIN_TOKEN: exit %d %s", code, errOut)
	}
	if code, _, errOut := poisonCLI(t, "wrong", "list", "--service-url", svc.URL); code != 1 || !strings.Contains(errOut, "401") {
		t.Fatalf("list with a wrong ADMIN_TOKEN: exit %d %s", code, errOut)
	}
	testenv.Eventually(t, 10*time.Second, "the three parked commands, listed in pages of one", func() bool {
		code, out, errOut := poisonCLI(t, testAdminToken, "list", "--service-url", svc.URL, "--page-size", "1")
		if code != 0 {
			t.Fatalf("list exit %d: %s", code, errOut)
		}
		return strings.Contains(out, "AllocateHandler") && strings.Contains(out, "Invalid sku NOPE") && strings.Contains(out, "3 parked message(s)")
	})
	if code, out, errOut := poisonCLI(t, testAdminToken, "replay", "--service-url", svc.URL, "--all"); code != 0 || !strings.Contains(out, "3 message(s) replayed") {
		t.Fatalf("replay exit %d: %s %s", code, out, errOut)
	}
	if code, _, errOut := poisonCLI(t, testAdminToken, "replay", "--service-url", svc.URL); code != 2 || !strings.Contains(errOut, "--id") {
		t.Fatalf("replay without ids: exit %d %s", code, errOut)
	}
	if code, _, errOut := poisonCLI(t, testAdminToken, "list", "--service-url", "http://127.0.0.1:1"); code != 1 || !strings.Contains(errOut, "is the service running") {
		t.Fatalf("list against nothing: exit %d %s", code, errOut)
	}
}

// poisonCLI runs "allocation poison ARGS" with ADMIN_TOKEN=token (none when
// empty) and returns its exit code and output.
func poisonCLI(t *testing.T, token string, args ...string) (code int, out, errOut string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	cmd := exec.Command(binary.Path(t), append([]string{"poison"}, args...)...)
	cmd.Env = append(os.Environ(), "ADMIN_TOKEN="+token)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("allocation poison %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
}
