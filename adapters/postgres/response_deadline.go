package postgres

import (
	"context"
	"net"
	"time"

	"github.com/lib/pq"
)

// DefaultResponseTimeout bounds how long a connection waits for
// PostgreSQL's answer and how long connecting takes. Every statement of the
// service takes milliseconds; a server that says nothing for this long is
// frozen or cut off.
const DefaultResponseTimeout = 10 * time.Second

// responseDeadlineDialer makes connections that fail a read which waits
// longer than timeout for the server after a request was sent. lib/pq
// cancels a query whose context ends by asking the server, over a new
// connection, to cancel it; a frozen server (or a host that accepts TCP and
// never answers) answers neither, and the query would block for ever.
// Failing the read marks the connection bad, so the pool drops it.
type responseDeadlineDialer struct {
	dialer  net.Dialer
	timeout time.Duration
}

var _ pq.DialerContext = responseDeadlineDialer{}

func (d responseDeadlineDialer) Dial(network, address string) (net.Conn, error) {
	return d.DialContext(context.Background(), network, address)
}

func (d responseDeadlineDialer) DialTimeout(network, address string, timeout time.Duration) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	return d.DialContext(ctx, network, address)
}

func (d responseDeadlineDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	conn, err := d.dialer.DialContext(ctx, network, address)
	if err != nil {
		return nil, err
	}
	return &responseDeadlineConn{Conn: conn, timeout: d.timeout}, nil
}

// responseDeadlineConn gives the server timeout to answer each request.
type responseDeadlineConn struct {
	net.Conn
	timeout time.Duration
}

func (c *responseDeadlineConn) Write(b []byte) (int, error) {
	if err := c.Conn.SetReadDeadline(time.Now().Add(c.timeout)); err != nil {
		return 0, err
	}
	return c.Conn.Write(b)
}

// untilDone runs call and returns its error, or ctx's error as soon as ctx
// ends. lib/pq does not interrupt a read from a frozen server when a
// context ends: it asks the server to cancel, over a new connection the
// frozen server does not answer either, and the call returns only at the
// response timeout. A caller with a deadline (an HTTP request) stops
// waiting here; call goes on until the connection fails, and its results
// are dropped.
func untilDone(ctx context.Context, call func() error) error {
	done := make(chan error, 1)
	go func() { done <- call() }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}
