package notify

import (
	"io"
	"net/mail"
	"strings"
	"testing"
	"time"
)

// A sku holding CR LF and header text stays inside the subject and the
// body: the relay sees exactly the headers we wrote.
func TestMailHeadersCannotBeInjected(t *testing.T) {
	const sku = "X\r\nReply-To: evil@example.com\r\nContent-Type: text/html"
	n := NewSMTPNotifier("unused:25", "allocation@localhost", []string{"stock@localhost"})
	raw, err := n.message("Out of stock for "+sku, "order o1 wanted 5 of "+sku+"\r\n<b>bold</b>", time.Unix(0, 0))
	if err != nil {
		t.Fatal(err)
	}
	msg, err := mail.ReadMessage(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	if got := msg.Header.Get("Reply-To"); got != "" {
		t.Errorf("injected Reply-To: %q", got)
	}
	if got := msg.Header.Get("Content-Type"); got != "text/plain; charset=utf-8" {
		t.Errorf("Content-Type = %q", got)
	}
	want := map[string]bool{"From": true, "To": true, "Subject": true, "Date": true, "Mime-Version": true, "Content-Type": true, "Content-Transfer-Encoding": true}
	for name := range msg.Header {
		if !want[name] {
			t.Errorf("unexpected header %s: %q", name, msg.Header[name])
		}
	}
	subject, err := new(mail.AddressParser).WordDecoder.DecodeHeader(msg.Header.Get("Subject"))
	if err != nil || subject != "Out of stock for "+sku {
		t.Errorf("subject decodes to %q (%v)", subject, err)
	}
	body, _ := io.ReadAll(msg.Body)
	if !strings.Contains(string(body), "order o1 wanted 5 of X") {
		t.Errorf("body = %q", body)
	}
}

func TestMailRefusesABadAddress(t *testing.T) {
	n := NewSMTPNotifier("unused:25", "a@localhost\r\nBcc: x@example.com", []string{"b@localhost"})
	if _, err := n.message("s", "b", time.Now()); err == nil || !strings.Contains(err.Error(), "SMTP_FROM") {
		t.Errorf("err = %v, want SMTP_FROM refused", err)
	}
}
