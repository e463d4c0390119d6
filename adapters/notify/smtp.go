package notify

import (
	"bytes"
	"context"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"net/smtp"
	"strings"
	"time"
)

// SMTPNotifier sends notifications by mail through an SMTP relay without
// authentication (a local relay, as in the book's MailHog set-up).
type SMTPNotifier struct {
	addr string
	from string
	to   []string
}

func NewSMTPNotifier(addr, from string, to []string) SMTPNotifier {
	return SMTPNotifier{addr: addr, from: from, to: to}
}

// Notify mails subject and body. Both may hold user input (a sku): the
// subject is a MIME encoded-word whenever it holds anything but printable
// ASCII (so a CR LF cannot start a header of its own), the body is
// quoted-printable text, and the addresses are parsed and formatted by
// net/mail. No header is built by pasting text in.
func (n SMTPNotifier) Notify(_ context.Context, subject, body string) error {
	msg, err := n.message(subject, body, time.Now())
	if err != nil {
		return err
	}
	if err := smtp.SendMail(n.addr, nil, n.from, n.to, msg); err != nil {
		return fmt.Errorf("sending mail through %s: %w", n.addr, err)
	}
	return nil
}

func (n SMTPNotifier) message(subject, body string, now time.Time) ([]byte, error) {
	from, err := mail.ParseAddress(n.from)
	if err != nil {
		return nil, fmt.Errorf("SMTP_FROM %q: %w", n.from, err)
	}
	to := make([]string, 0, len(n.to))
	for _, addr := range n.to {
		a, err := mail.ParseAddress(addr)
		if err != nil {
			return nil, fmt.Errorf("NOTIFY_TO %q: %w", addr, err)
		}
		to = append(to, a.String())
	}
	var msg bytes.Buffer
	header := func(name, value string) { fmt.Fprintf(&msg, "%s: %s\r\n", name, value) }
	header("From", from.String())
	header("To", strings.Join(to, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.Format(time.RFC1123Z))
	header("MIME-Version", "1.0")
	header("Content-Type", mime.FormatMediaType("text/plain", map[string]string{"charset": "utf-8"}))
	header("Content-Transfer-Encoding", "quoted-printable")
	msg.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&msg)
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	msg.WriteString("\r\n")
	return msg.Bytes(), nil
}
