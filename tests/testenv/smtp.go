package testenv

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
)

// FakeSMTP is just enough of an SMTP server for net/smtp.SendMail, to
// stand in for a mail relay that can be started and stopped by the test.
type FakeSMTP struct {
	mu    sync.Mutex
	mails []string
}

// StartFakeSMTP listens on addr until the test ends.
func StartFakeSMTP(t testing.TB, addr string) *FakeSMTP {
	t.Helper()
	l, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	s := &FakeSMTP{}
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *FakeSMTP) serve(conn net.Conn) {
	defer conn.Close()
	r := bufio.NewReader(conn)
	say := func(line string) { _, _ = conn.Write([]byte(line + "\r\n")) }
	say("220 fake ESMTP")
	var data strings.Builder
	inData := false
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		if inData {
			if line == ".\r\n" {
				inData = false
				s.mu.Lock()
				s.mails = append(s.mails, data.String())
				s.mu.Unlock()
				data.Reset()
				say("250 OK")
				continue
			}
			data.WriteString(line)
			continue
		}
		switch cmd := strings.ToUpper(strings.TrimSpace(line)); {
		case strings.HasPrefix(cmd, "EHLO"), strings.HasPrefix(cmd, "HELO"):
			say("250 fake")
		case strings.HasPrefix(cmd, "DATA"):
			inData = true
			say("354 go on")
		case strings.HasPrefix(cmd, "QUIT"):
			say("221 bye")
			return
		default:
			say("250 OK")
		}
	}
}

// Received returns the mails received so far, headers and body.
func (s *FakeSMTP) Received() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.mails...)
}
