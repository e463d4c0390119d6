package notify

import (
	"context"
	"fmt"
	"net/smtp"
	"strings"
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

func (n SMTPNotifier) Notify(_ context.Context, subject, body string) error {
	msg := fmt.Sprintf("From: %s\r\nTo: %s\r\nSubject: %s\r\n\r\n%s\r\n", n.from, strings.Join(n.to, ", "), subject, body)
	if err := smtp.SendMail(n.addr, nil, n.from, n.to, []byte(msg)); err != nil {
		return fmt.Errorf("sending mail through %s: %w", n.addr, err)
	}
	return nil
}
