package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// startConfigured runs ocnid in-process on loopback with a configuration
// file (its data file in a temporary folder) until the test ends.
func startConfigured(t *testing.T, config string, args ...string) (addr string, logs *syncBuffer) {
	t.Helper()
	dir := t.TempDir()
	path := writeFile(t, "data: "+filepath.Join(dir, "ocni.db")+"\n"+config)
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs = &syncBuffer{}
	go func() {
		done <- run(ctx, append([]string{"-config", path, "-listen", "127.0.0.1:0"}, args...), logs, ready)
	}()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("ocnid did not start: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("ocnid did not start in 10s")
	}
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ocnid: %v", err)
		}
	})
	return addr, logs
}

// probe times one GET of the query interface on a new connection.
func probe(t *testing.T, addr string) (int, time.Duration) {
	t.Helper()
	client := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	start := time.Now()
	res, err := client.Get("http://" + addr + "/-/")
	if err != nil {
		t.Fatalf("probe: %v", err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res.StatusCode, time.Since(start)
}

// Slow bodies (the review sent one byte every 3 s) hold their connections
// for the body timeout, no longer, and meanwhile a GET is answered at once.
func TestSlowBodies(t *testing.T) {
	if testing.Short() {
		t.Skip("holds hundreds of connections for seconds")
	}
	const (
		clients     = 300
		bodyTimeout = 2 * time.Second
	)
	addr, _ := startConfigured(t, "timeouts: {header: 5s, body: 2s}\nmax_connections: 400\n")
	type outcome struct {
		status int
		took   time.Duration
	}
	outcomes := make(chan outcome, clients)
	var connected sync.WaitGroup
	connected.Add(clients)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
			if err != nil {
				connected.Done()
				outcomes <- outcome{status: -1}
				return
			}
			defer conn.Close()
			start := time.Now()
			_ = conn.SetDeadline(start.Add(bodyTimeout + 8*time.Second))
			_, err = fmt.Fprintf(conn, "POST /compute/ HTTP/1.1\r\nHost: %s\r\nContent-Type: application/occi+json\r\nContent-Length: 1000000\r\n\r\n{", addr)
			connected.Done()
			if err != nil {
				outcomes <- outcome{status: -1}
				return
			}
			// One byte every 300 ms, until the server answers or closes.
			ended := make(chan struct{})
			go func() {
				tick := time.NewTicker(300 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ended:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte(" ")); err != nil {
							return
						}
					}
				}
			}()
			status := 0
			if res, err := http.ReadResponse(bufio.NewReader(conn), nil); err == nil {
				status = res.StatusCode
				res.Body.Close()
			}
			close(ended)
			outcomes <- outcome{status: status, took: time.Since(start)}
		}()
	}
	connected.Wait()
	// While they trickle, a GET is answered quickly (a generous bound: the
	// machine is shared and small).
	for range 5 {
		status, took := probe(t, addr)
		if status != 200 || took > time.Second {
			t.Errorf("probe GET while %d slow bodies are open: %d in %s", clients, status, took)
		}
		time.Sleep(200 * time.Millisecond)
	}
	wg.Wait()
	close(outcomes)
	timedOut, failed := 0, 0
	var longest time.Duration
	for o := range outcomes {
		switch o.status {
		case -1:
			failed++
		case http.StatusRequestTimeout:
			timedOut++
		}
		longest = max(longest, o.took)
	}
	if failed > 0 {
		t.Errorf("%d slow clients could not connect or send", failed)
	}
	// Every slow client was cut near the body timeout, not after our own
	// deadline; most read the 408 (a few may lose it to the reset of the
	// bytes they kept sending).
	if longest > bodyTimeout+5*time.Second {
		t.Errorf("a slow body held its connection for %s; the body timeout is %s", longest, bodyTimeout)
	}
	if timedOut < clients/2 {
		t.Errorf("%d of %d slow clients were answered 408", timedOut, clients)
	}
	if status, took := probe(t, addr); status != 200 || took > time.Second {
		t.Errorf("probe GET after the slow bodies: %d in %s", status, took)
	}
}

// Past max_connections a client gets a 503 at once, not a wait.
func TestMaxConnections(t *testing.T) {
	addr, _ := startConfigured(t, "max_connections: 5\ntimeouts: {header: 10s}\n")
	for range 5 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	// The idle ones are accepted in the order they came: the next GET is
	// the sixth.
	deadline := time.Now().Add(5 * time.Second)
	for {
		start := time.Now()
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(5 * time.Second))
		_, _ = fmt.Fprintf(c, "GET /-/ HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		c.Close()
		if res.StatusCode == http.StatusServiceUnavailable {
			if took := time.Since(start); took > time.Second {
				t.Errorf("the 503 took %s", took)
			}
			if !strings.Contains(string(body), "max_connections") {
				t.Errorf("503 body: %s", body)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("a connection past max_connections: %s", res.Status)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A header that does not arrive within the header timeout, and a kept-alive
// connection idle past the idle timeout, are closed.
func TestHeaderAndIdleTimeouts(t *testing.T) {
	addr, _ := startConfigured(t, "timeouts: {header: 1s, idle: 1s}\n")
	closedWithin := func(c net.Conn, bound time.Duration) bool {
		_ = c.SetReadDeadline(time.Now().Add(bound))
		_, err := io.Copy(io.Discard, c)
		return !errors.Is(err, os.ErrDeadlineExceeded)
	}

	slow, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Close()
	_, _ = fmt.Fprintf(slow, "GET /-/ HTTP/1.1\r\nHost: %s\r\n", addr) // no end of header
	if !closedWithin(slow, 4*time.Second) {
		t.Error("a header that never ends held its connection past the header timeout")
	}

	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	_, _ = fmt.Fprintf(idle, "GET /-/ HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
	br := bufio.NewReader(idle)
	res, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || res.Close {
		t.Fatalf("first request: %s, close %v", res.Status, res.Close)
	}
	start := time.Now()
	_ = idle.SetReadDeadline(time.Now().Add(4 * time.Second))
	if _, err := br.ReadByte(); err == nil || time.Since(start) > 3*time.Second {
		t.Errorf("an idle connection: %v after %s", err, time.Since(start))
	}
}

// A DNS rebinding page reaches the address with its own name in Host: the
// server, and its debug address, answer 421.
func TestRebinding(t *testing.T) {
	debug := freeLoopbackAddr(t)
	addr, _ := startConfigured(t, "debug_listen: "+debug+"\n")
	_, port, _ := net.SplitHostPort(addr)
	_, debugPort, _ := net.SplitHostPort(debug)
	for _, tt := range []struct {
		addr, host string
		want       int
	}{
		{addr, "evil.example:" + port, 421},
		{addr, "127.0.0.1:" + port, 200},
		{addr, "localhost:" + port, 200},
		{addr, "[::1]:" + port, 200},
		{debug, "evil.example:" + debugPort, 421},
		{debug, "localhost:" + debugPort, 200},
	} {
		path := "/-/"
		if tt.addr == debug {
			path = "/debug/pprof/"
		}
		r, _ := http.NewRequest("GET", "http://"+tt.addr+path, nil)
		r.Host = tt.host
		res, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != tt.want {
			t.Errorf("GET %s with Host %s: %d, want %d", path, tt.host, res.StatusCode, tt.want)
		}
	}
}

func freeLoopbackAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ocnid refuses to listen off loopback without auth, unless told to, and
// says why.
func TestOffLoopbackRefusal(t *testing.T) {
	auth := writeFile(t, "") // an empty htpasswd file: only parsed at run
	for _, tt := range []struct {
		name, file string
		args       []string
		want       string // "" for accepted
	}{
		{name: "all interfaces", args: []string{"-listen", "0.0.0.0:8090"}, want: "not a loopback address and auth is not configured"},
		{name: "all interfaces, v6", args: []string{"-listen", "[::]:8090"}, want: "-insecure"},
		{name: "no host", args: []string{"-listen", ":8090"}, want: "Running ocnid safely"},
		{name: "a public address", args: []string{"-listen", "192.0.2.1:8090"}, want: "not a loopback address"},
		{name: "a name", args: []string{"-listen", "occi.example.net:8090"}, want: "not a loopback address"},
		{name: "from the file", file: "listen: 0.0.0.0:8090\n", want: "not a loopback address"},
		{name: "debug address", args: []string{"-debug-listen", "0.0.0.0:8091"}, want: "debug_listen"},
		{name: "insecure", args: []string{"-listen", "0.0.0.0:8090", "-insecure"}},
		{name: "with auth", file: "listen: 0.0.0.0:8090\nauth: {htpasswd: " + auth + "}\n"},
		{name: "loopback", args: []string{"-listen", "127.0.0.2:8090"}},
		{name: "localhost", args: []string{"-listen", "localhost:8090"}},
		{name: "v6 loopback", args: []string{"-listen", "[::1]:8090"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"-config", writeFile(t, tt.file)}, args...)
			}
			_, err := parseFlags(args, io.Discard)
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tt.want != "" && (err == nil || !strings.Contains(err.Error(), tt.want)):
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestSafetyConfig(t *testing.T) {
	cfg := DefaultConfig()
	if cfg.Timeouts != (Timeouts{Header: Duration(10 * time.Second), Body: Duration(30 * time.Second), Write: Duration(30 * time.Second), Idle: Duration(2 * time.Minute)}) ||
		cfg.MaxConnections != 1000 || cfg.Auth != nil {
		t.Errorf("defaults: %+v", cfg)
	}
	cfg, err := parseFlags([]string{"-config", writeFile(t, `
timeouts: {body: 5s, write: 1.5}
max_connections: 64
auth: {htpasswd: /etc/ocni/htpasswd, admins: [alice], tokens_file: /etc/ocni/tokens}
allowed_origins: [https://ui.example.net]
allowed_hosts: [occi.example.net, "10.0.0.5:8090"]
trusted_proxies: [10.0.0.0/8, 192.0.2.7, "::1"]
`)}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Timeouts.Body != Duration(5*time.Second) || cfg.Timeouts.Write != Duration(1500*time.Millisecond) || cfg.Timeouts.Header != Duration(10*time.Second) {
		t.Errorf("timeouts: %+v (the keys not given keep their defaults)", cfg.Timeouts)
	}
	if cfg.MaxConnections != 64 || cfg.Auth.Htpasswd != "/etc/ocni/htpasswd" || cfg.Auth.Admins[0] != "alice" || cfg.Auth.TokensFile != "/etc/ocni/tokens" {
		t.Errorf("values: %+v %+v", cfg, cfg.Auth)
	}
	proxies, _ := cfg.trustedProxies()
	if len(proxies) != 3 || proxies[1].String() != "192.0.2.7/32" || proxies[2].String() != "::1/128" {
		t.Errorf("trusted proxies %v", proxies)
	}

	for _, tt := range []struct{ file, want string }{
		{"timeouts: {body: 0}\n", "timeouts.body must be positive"},
		{"timeouts: {header: -1s}\n", "timeouts.header"},
		{"timeouts: {idle: soon}\n", `duration "soon"`},
		{"timeouts: {reed: 1s}\n", "reed"},
		{"max_connections: 0\n", "max_connections"},
		{"auth: {}\n", "auth: name an htpasswd file"},
		{"auth: {tokens_file: t, admins: [alice]}\n", "admins name users of the htpasswd file"},
		{"auth: {htpasswd: h, password: x}\n", "password"},
		{"allowed_origins: ['*']\n", "no *"},
		{"allowed_origins: [ui.example.net]\n", "want an origin"},
		{"allowed_origins: ['https://ui.example.net/app']\n", "want an origin"},
		{"allowed_hosts: ['https://occi.example.net']\n", "allowed_hosts"},
		{"allowed_hosts: ['*.example.net']\n", "wildcard"},
		{"trusted_proxies: [everyone]\n", "trusted_proxies"},
		{"insecure: true\n", "insecure"},
	} {
		if _, err := parseFlags([]string{"-config", writeFile(t, tt.file)}, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: err = %v, want one containing %q", tt.file, err, tt.want)
		}
	}
}

// The hosts served by default: the listen address, the localhost names at
// its port, and public_url's host.
func TestServedHosts(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PublicURL = "https://occi.example.net"
	cfg.AllowedHosts = []string{"ocni.lan"}
	got := strings.Join(cfg.servedHosts(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8123}), " ")
	if want := "localhost:8123 127.0.0.1:8123 [::1]:8123 occi.example.net ocni.lan"; got != want {
		t.Errorf("served hosts %q, want %q", got, want)
	}
	cfg.PublicURL = "https://occi.example.net:443"
	cfg.AllowedHosts = nil
	got = strings.Join(cfg.servedHosts(&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}), " ")
	if want := "localhost:80 localhost 127.0.0.1:80 127.0.0.1 [::1]:80 ::1 occi.example.net"; got != want {
		t.Errorf("served hosts on port 80 %q, want %q", got, want)
	}
	cfg.Listen = "0.0.0.0:8123"
	got = strings.Join(cfg.servedHosts(&net.TCPAddr{IP: net.IPv4zero, Port: 8123}), " ")
	if !strings.Contains(got, "127.0.0.1:8123") || strings.Contains(got, "0.0.0.0") {
		t.Errorf("served hosts on every interface: %q", got)
	}
}

// The auth files are read at start: a bad one stops it, naming the file.
func TestAuthFilesAtStart(t *testing.T) {
	bad := writeFile(t, "alice:$apr1$x$y\n")
	err := run(context.Background(), []string{"-config", writeFile(t, "auth: {htpasswd: "+bad+"}\n"), "-listen", "127.0.0.1:0", "-data", filepath.Join(t.TempDir(), "ocni.db")}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "not bcrypt") || !strings.Contains(err.Error(), bad) {
		t.Errorf("a start with an MD5 htpasswd entry: %v", err)
	}
}

// The example configurations: the plain one shows the limits' defaults, the
// safe one starts (its files parse) with auth on.
func TestExampleConfigsSafety(t *testing.T) {
	root := filepath.Join("..", "..")
	cfg, err := parseFlags([]string{"-config", filepath.Join(root, "examples", "ocnid.yaml")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if def := DefaultConfig(); cfg.Timeouts != def.Timeouts || cfg.MaxConnections != def.MaxConnections || cfg.Auth != nil {
		t.Errorf("examples/ocnid.yaml drifted from the defaults: %+v", cfg)
	}
	cfg, err = parseFlags([]string{"-config", filepath.Join(root, "examples", "safe", "ocnid.yaml")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Auth == nil || len(cfg.AllowedOrigins) == 0 {
		t.Fatalf("examples/safe/ocnid.yaml: %+v", cfg)
	}
	cfg.Auth.Htpasswd = filepath.Join(root, cfg.Auth.Htpasswd)
	cfg.Auth.TokensFile = filepath.Join(root, cfg.Auth.TokensFile)
	if _, err := cfg.authenticator(); err != nil {
		t.Errorf("examples/safe's files: %v", err)
	}
}
