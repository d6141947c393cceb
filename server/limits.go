package server

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// LimitListener caps the connections open at once at limit: one more is
// answered 503 and closed at once, so that a flood of idle or slow clients
// costs a bounded number of descriptors and the clients being served keep
// being served.
func (s *Server) LimitListener(ln net.Listener, limit int) net.Listener {
	problem := &renderers.Problem{
		Status:  statusOf(occi.Unavailable),
		Code:    occi.Unavailable.String(),
		Message: fmt.Sprintf("too many connections: this server serves at most %d at once (max_connections); try again shortly", limit),
	}
	header := http.Header{}
	var body bytes.Buffer
	if err := s.codecs.Default().Encode(header, &body, problem); err != nil {
		header.Set("Content-Type", "text/plain; charset=utf-8")
		body.Reset()
		body.WriteString(problem.Message + "\n")
	}
	var answer bytes.Buffer
	fmt.Fprintf(&answer, "HTTP/1.1 %d %s\r\n", problem.Status, http.StatusText(problem.Status))
	header.Set("Server", s.banner)
	header.Set("Retry-After", "1")
	header.Set("Connection", "close")
	header.Set("Content-Length", fmt.Sprint(body.Len()))
	_ = header.Write(&answer)
	answer.WriteString("\r\n")
	answer.Write(body.Bytes())
	return &limitListener{
		Listener: ln,
		limit:    int64(limit),
		answer:   answer.Bytes(),
		refusing: make(chan struct{}, refusingAtOnce),
	}
}

// refusingAtOnce bounds the connections being refused at once; past it,
// more are closed without an answer.
const refusingAtOnce = 64

type limitListener struct {
	net.Listener
	limit    int64
	open     atomic.Int64
	answer   []byte
	refusing chan struct{}
}

func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.limit {
			return &countedConn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		l.refuse(c)
	}
}

// refuse answers 503 and closes. The request is read (a little, briefly)
// before closing: closing with it unread would reset the connection, and
// the client could lose the answer.
func (l *limitListener) refuse(c net.Conn) {
	select {
	case l.refusing <- struct{}{}:
	default:
		_ = c.Close()
		return
	}
	go func() {
		defer func() { <-l.refusing }()
		defer func() { _ = c.Close() }()
		_ = c.SetDeadline(time.Now().Add(time.Second))
		if _, err := c.Write(l.answer); err != nil {
			return
		}
		if cw, ok := c.(interface{ CloseWrite() error }); ok {
			_ = cw.CloseWrite()
		}
		_, _ = io.Copy(io.Discard, io.LimitReader(c, 64<<10))
	}()
}

type countedConn struct {
	net.Conn
	l    *limitListener
	once sync.Once
}

func (c *countedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() { c.l.open.Add(-1) })
	return err
}

// CloseWrite lets net/http half-close before its lingering close.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
