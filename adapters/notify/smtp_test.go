package notify_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"allocation/adapters/notify"
	"allocation/tests/testenv"
)

func TestSMTPNotifierSendsAMail(t *testing.T) {
	addr := testenv.FreeAddr(t)
	relay := testenv.StartFakeSMTP(t, addr)
	n := notify.NewSMTPNotifier(addr, "allocation@localhost", []string{"stock@localhost"})
	if err := n.Notify(context.Background(), "Out of stock for LAMP", "order o1 wanted 5"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for len(relay.Received()) == 0 && time.Now().Before(deadline) {
		<-time.After(2 * time.Millisecond)
	}
	mails := relay.Received()
	if len(mails) != 1 || !strings.Contains(mails[0], "Subject: Out of stock for LAMP") || !strings.Contains(mails[0], "order o1 wanted 5") {
		t.Fatalf("mails = %q", mails)
	}
}

func TestSMTPNotifierReportsAnAbsentRelay(t *testing.T) {
	n := notify.NewSMTPNotifier(testenv.FreeAddr(t), "a@localhost", []string{"b@localhost"})
	if err := n.Notify(context.Background(), "s", "b"); err == nil || !strings.Contains(err.Error(), "sending mail") {
		t.Fatalf("err = %v", err)
	}
}
