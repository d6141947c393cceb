package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// A client that does not read its answer holds its connection for the
// write timeout, no longer.
func TestWriteTimeout(t *testing.T) {
	f := newFixture(t)
	f.reconfigure(Config{WriteTimeout: 300 * time.Millisecond})
	const size = 32 << 20 // far more than the sockets buffer
	big := bytes.Repeat([]byte("x"), size)
	f.srv.echo.GET("/big", f.srv.wrap(func(*request) (*reply, error) {
		return &reply{status: http.StatusOK, body: &preEncoded{header: http.Header{}, body: big}}, nil
	}))
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = fmt.Fprintf(conn, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n")
	time.Sleep(1500 * time.Millisecond) // not reading
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _ := io.Copy(io.Discard, conn)
	if n >= size {
		t.Errorf("the whole answer (%d bytes) waited for a client that did not read", n)
	}
}

// The write deadline of one answer does not outlive it: on a kept-alive
// connection, the next request's 100 Continue and answer go out.
func TestWriteDeadlineEndsWithItsAnswer(t *testing.T) {
	f := newFixture(t)
	f.reconfigure(Config{WriteTimeout: 200 * time.Millisecond, BodyTimeout: time.Second})
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	br := bufio.NewReader(conn)
	_, _ = fmt.Fprintf(conn, "GET /-/ HTTP/1.1\r\nHost: x\r\n\r\n")
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	time.Sleep(500 * time.Millisecond) // past the first answer's deadline
	_, _ = fmt.Fprintf(conn, "POST /-/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/occi+json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n")
	cont, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("100 Continue: %v", err)
	}
	cont.Body.Close()
	if cont.StatusCode != http.StatusContinue {
		t.Fatalf("100 Continue: %s", cont.Status)
	}
	_, _ = fmt.Fprintf(conn, "{}")
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatalf("the second answer: %v", err)
	}
	res.Body.Close()
	if res.StatusCode != 400 {
		t.Errorf("the second answer: %s", res.Status)
	}
}

// The body timeout bounds the body only: once it has arrived, the
// operation may take longer without its request being cancelled.
func TestBodyTimeoutEndsWithTheBody(t *testing.T) {
	f := newFixture(t)
	f.reconfigure(Config{BodyTimeout: 200 * time.Millisecond})
	f.srv.echo.POST("/slow", f.srv.wrap(func(r *request) (*reply, error) {
		time.Sleep(600 * time.Millisecond)
		if err := r.Request().Context().Err(); err != nil {
			return nil, err
		}
		return &reply{status: http.StatusNoContent}, nil
	}))
	srv := httptest.NewServer(f.srv)
	defer srv.Close()
	res, err := http.Post(srv.URL+"/slow", "application/occi+json", strings.NewReader(`{}`))
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != 204 {
		t.Errorf("an operation longer than the body timeout: %s", res.Status)
	}

	// A body that does not arrive in time is a 408.
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, _ = fmt.Fprintf(conn, "POST /slow HTTP/1.1\r\nHost: x\r\nContent-Type: application/occi+json\r\nContent-Length: 100\r\n\r\n{")
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err = http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 408 || !strings.Contains(string(body), "timeouts.body") {
		t.Errorf("a late body: %s %s", res.Status, body)
	}
}

// Past the cap, a connection is answered 503 at once; when one closes,
// the next is served.
func TestLimitListener(t *testing.T) {
	f := newFixture(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	hs := &http.Server{Handler: f.srv, ReadHeaderTimeout: 10 * time.Second}
	go func() { _ = hs.Serve(f.srv.LimitListener(ln, 2)) }()
	defer hs.Close()
	addr := ln.Addr().String()
	var held []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		held = append(held, c)
	}
	type answer struct {
		status int
		header http.Header
		body   []byte
		took   time.Duration
	}
	get := func() answer {
		t.Helper()
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = fmt.Fprintf(c, "GET /-/ HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return answer{res.StatusCode, res.Header, body, time.Since(start)}
	}
	// The two held connections may not be accepted yet: wait until the
	// cap refuses.
	deadline := time.Now().Add(5 * time.Second)
	for {
		a := get()
		if a.status == 503 {
			if !strings.Contains(string(a.body), `"code":"Unavailable"`) || !strings.Contains(string(a.body), "max_connections") || a.header.Get("Retry-After") == "" {
				t.Errorf("503: %v %s", a.header, a.body)
			}
			if a.took > time.Second {
				t.Errorf("the 503 took %s", a.took)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("never refused past the cap: %d", a.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
	held[0].Close()
	deadline = time.Now().Add(5 * time.Second)
	for {
		if a := get(); a.status == 200 {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("a closed connection did not free its place: %d", a.status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
