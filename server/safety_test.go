package server

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// raw is a request with what a client controls beyond req: the Host, the
// peer address and repeated header fields.
type raw struct {
	method, target, host, remote, body, contentType string
	header                                          http.Header
}

func (f *fixture) send(r raw) *httptest.ResponseRecorder {
	f.t.Helper()
	var hr *http.Request
	if r.body != "" {
		hr = httptest.NewRequest(r.method, r.target, strings.NewReader(r.body))
		hr.Header.Set("Content-Type", "application/occi+json")
	} else {
		hr = httptest.NewRequest(r.method, r.target, nil)
	}
	if r.contentType != "" {
		hr.Header.Set("Content-Type", r.contentType)
	}
	if r.host != "" {
		hr.Host = r.host
	}
	if r.remote != "" {
		hr.RemoteAddr = r.remote
	}
	for k, vs := range r.header {
		hr.Header[http.CanonicalHeaderKey(k)] = vs
	}
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, hr)
	return rec
}

// reconfigure rebuilds the fixture's server with cfg, keeping its engine.
func (f *fixture) reconfigure(cfg Config) {
	cfg.Engine, cfg.BodyLimit, cfg.Logger = f.eng, 64<<10, f.srv.log
	f.srv = New(cfg)
}

func computeState(t *testing.T, f *fixture, loc string) string {
	t.Helper()
	rec := f.do(req{method: "GET", path: loc})
	var v struct {
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &v); err != nil {
		t.Fatalf("GET %s: %d %s", loc, rec.Code, rec.Body)
	}
	s, _ := v.Attributes["occi.compute.state"].(string)
	return s
}

// The review's reproducer: any web page may send a POST of text/plain
// without a preflight. From an origin not allowed, it is refused and no
// compute stops; from an allowed one, it works and the page may read the
// answer.
func TestCrossSiteRequests(t *testing.T) {
	f := newFixture(t)
	f.reconfigure(Config{AllowedOrigins: []string{"https://UI.example.net:443"}})
	for _, id := range []string{"a", "b"} {
		if rec := f.do(req{method: "PUT", path: "/compute/" + id, body: `{"kind":"` + computeID + `"}`}); rec.Code != 201 {
			t.Fatalf("create: %d %s", rec.Code, rec.Body)
		}
	}
	stop := raw{method: "POST", target: "/compute/?action=stop", contentType: "text/plain", header: http.Header{"Origin": {"http://evil.example"}}}
	rec := f.send(stop)
	if rec.Code != 403 {
		t.Fatalf("cross-site stop: %d %s", rec.Code, rec.Body)
	}
	if code, msg := problem(t, rec); code != "Forbidden" || !strings.Contains(msg, "allowed_origins") {
		t.Errorf("cross-site stop: %s %q", code, msg)
	}
	if rec.Header().Get("Access-Control-Allow-Origin") != "" {
		t.Error("CORS header fields for an origin not allowed")
	}
	for _, id := range []string{"a", "b"} {
		if s := computeState(t, f, "/compute/"+id); s != "active" {
			t.Errorf("compute %s is %s after a refused cross-site stop", id, s)
		}
	}
	for _, r := range []raw{
		{method: "DELETE", target: "/", header: http.Header{"Origin": {"http://evil.example"}}},
		{method: "PUT", target: "/compute/c", body: `{"kind":"` + computeID + `"}`, header: http.Header{"Origin": {"null"}}},
		{method: "POST", target: "/-/", body: goldBody, header: http.Header{"Origin": {"https://ui.example.net.evil.example"}}},
		{method: "OPTIONS", target: "/compute/", header: http.Header{"Origin": {"http://evil.example"}, "Access-Control-Request-Method": {"DELETE"}}},
	} {
		if rec := f.send(r); rec.Code != 403 {
			t.Errorf("%s %s from %s: %d, want 403", r.method, r.target, r.header.Get("Origin"), rec.Code)
		}
	}
	if rec := f.do(req{method: "GET", path: "/compute/c"}); rec.Code != 404 {
		t.Errorf("a refused cross-site PUT created the compute: %d", rec.Code)
	}

	// Reading from another origin is let through: the browser keeps the
	// answer from the page, for want of CORS header fields.
	rec = f.send(raw{method: "GET", target: "/compute/", header: http.Header{"Origin": {"http://evil.example"}}})
	if rec.Code != 200 || rec.Header().Get("Access-Control-Allow-Origin") != "" || rec.Header().Get("Vary") != "Origin" {
		t.Errorf("cross-site GET: %d %v", rec.Code, rec.Header())
	}

	// The allowed origin: its preflight, then the stop itself.
	ui := http.Header{"Origin": {"https://ui.example.net"}}
	rec = f.send(raw{method: "OPTIONS", target: "/compute/", header: http.Header{"Origin": ui["Origin"], "Access-Control-Request-Method": {"POST"}, "Access-Control-Request-Headers": {"authorization, content-type"}}})
	h := rec.Header()
	if rec.Code != 204 || h.Get("Access-Control-Allow-Origin") != "https://ui.example.net" || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") ||
		!strings.Contains(h.Get("Access-Control-Allow-Headers"), "Authorization") || h.Get("Access-Control-Allow-Credentials") != "true" {
		t.Errorf("preflight of an allowed origin: %d %v", rec.Code, h)
	}
	rec = f.send(raw{method: "POST", target: "/compute/?action=stop", contentType: "text/plain", header: ui})
	h = rec.Header()
	if rec.Code != 200 || h.Get("Access-Control-Allow-Origin") != "https://ui.example.net" || !strings.Contains(h.Get("Access-Control-Expose-Headers"), "Location") {
		t.Errorf("stop from an allowed origin: %d %v %s", rec.Code, h, rec.Body)
	}
	if s := computeState(t, f, "/compute/a"); s != "inactive" {
		t.Errorf("compute a is %s after a stop from an allowed origin", s)
	}
	// Vary keeps the handler's own and adds Origin.
	rec = f.send(raw{method: "GET", target: "/-/", header: ui})
	if v := rec.Header().Values("Vary"); !strings.Contains(strings.Join(v, ","), "Origin") || !strings.Contains(strings.Join(v, ","), "Accept") {
		t.Errorf("Vary %v", v)
	}
	// Without an Origin (curl, OCCI clients), nothing changes.
	if rec := f.send(raw{method: "POST", target: "/compute/?action=start"}); rec.Code != 200 {
		t.Errorf("a stop without Origin: %d %s", rec.Code, rec.Body)
	}
}

// A DNS rebinding page names its own host: it gets a 421 and nothing is
// done.
func TestHostCheck(t *testing.T) {
	f := newFixture(t)
	f.reconfigure(Config{AllowedHosts: []string{"127.0.0.1:8090", "localhost:8090", "[::1]:8090", "OCCI.example.net", "::2"}})
	for _, tt := range []struct {
		host string
		want int
	}{
		{"127.0.0.1:8090", 200},
		{"LOCALHOST:8090", 200},
		{"[::1]:8090", 200},
		{"occi.example.net", 200},
		{"occi.example.net:443", 200},
		{"[::2]:1", 200},
		{"evil.example:8090", 421},
		{"localhost:8091", 421},
		{"127.0.0.1", 421},
		{"", 421},
		{"occi.example.net.evil.example", 421},
	} {
		rec := f.send(raw{method: "GET", target: "/-/", host: tt.host})
		if rec.Code != tt.want {
			t.Errorf("Host %q: %d, want %d", tt.host, rec.Code, tt.want)
			continue
		}
		if tt.want == 421 {
			if code, msg := problem(t, rec); code != "MisdirectedRequest" || !strings.Contains(msg, "allowed_hosts") {
				t.Errorf("Host %q: %s %q", tt.host, code, msg)
			}
		}
	}
	rec := f.send(raw{method: "PUT", target: "/compute/x", host: "evil.example:8090", body: `{"kind":"` + computeID + `"}`})
	if rec.Code != 421 {
		t.Fatalf("rebinding PUT: %d", rec.Code)
	}
	if rec := f.send(raw{method: "GET", target: "/compute/x", host: "127.0.0.1:8090"}); rec.Code != 404 {
		t.Errorf("a rebinding PUT made the compute: %d", rec.Code)
	}
}

// Forwarding header fields count from trusted proxies only: the log's
// address, and the scheme and host of the locations answered.
func TestProxyHeaders(t *testing.T) {
	f := newFixture(t)
	_, proxies, _ := net.ParseCIDR("10.0.0.0/8")
	f.reconfigure(Config{TrustedProxies: []*net.IPNet{proxies}, AllowedHosts: []string{"127.0.0.1:8090", "occi.example.net"}})
	forwarded := http.Header{
		"X-Forwarded-For":   {"203.0.113.9"},
		"X-Forwarded-Proto": {"https"},
		"X-Forwarded-Host":  {"occi.example.net"},
	}
	create := func(remote, id string, header http.Header) *httptest.ResponseRecorder {
		return f.send(raw{method: "PUT", target: "/compute/" + id, host: "127.0.0.1:8090", remote: remote, body: `{"kind":"` + computeID + `"}`, header: header})
	}
	lastRemote := func() string {
		lines := strings.Split(strings.TrimSpace(f.logs.String()), "\n")
		var line struct{ Remote string }
		_ = json.Unmarshal([]byte(lines[len(lines)-1]), &line)
		return line.Remote
	}

	rec := create("198.51.100.7:4000", "a", forwarded)
	if loc := rec.Header().Get("Location"); rec.Code != 201 || loc != "http://127.0.0.1:8090/compute/a" {
		t.Errorf("untrusted peer: %d Location %q, want the request's own scheme and host", rec.Code, loc)
	}
	if got := lastRemote(); got != "198.51.100.7" {
		t.Errorf("untrusted peer logged as %q", got)
	}
	rec = f.send(raw{method: "GET", target: "/-/", host: "127.0.0.1:8090", remote: "198.51.100.7:4000", header: http.Header{"X-Real-Ip": {"203.0.113.9"}}})
	if got := lastRemote(); rec.Code != 200 || got != "198.51.100.7" {
		t.Errorf("untrusted X-Real-IP: %d, logged as %q", rec.Code, got)
	}

	rec = create("10.1.2.3:4000", "b", forwarded)
	if loc := rec.Header().Get("Location"); rec.Code != 201 || loc != "https://occi.example.net/compute/b" {
		t.Errorf("trusted proxy: %d Location %q", rec.Code, loc)
	}
	if got := lastRemote(); got != "203.0.113.9" {
		t.Errorf("trusted proxy's client logged as %q", got)
	}
	rec = f.send(raw{method: "GET", target: "/-/", host: "127.0.0.1:8090", remote: "10.1.2.3:4000", header: http.Header{"X-Real-Ip": {"203.0.113.9"}}})
	if got := lastRemote(); rec.Code != 200 || got != "203.0.113.9" {
		t.Errorf("trusted X-Real-IP: %d, logged as %q", rec.Code, got)
	}
	// A trusted proxy's host is checked like any Host.
	rec = create("10.1.2.3:4000", "c", http.Header{"X-Forwarded-Host": {"evil.example"}})
	if rec.Code != 421 {
		t.Errorf("trusted proxy forwarding an unknown host: %d", rec.Code)
	}

	// With public_url, locations are under it whatever the request says.
	pub, _ := url.Parse("https://occi.example.net")
	f.reconfigure(Config{PublicURL: pub})
	rec = create("198.51.100.7:4000", "d", http.Header{"X-Forwarded-Proto": {"http"}, "X-Forwarded-Host": {"evil.example"}})
	if loc := rec.Header().Get("Location"); loc != "https://occi.example.net/compute/d" {
		t.Errorf("with public_url: Location %q", loc)
	}
}

// A client's request id is kept only when it is a short word.
func TestRequestIDs(t *testing.T) {
	f := newFixture(t)
	for id, kept := range map[string]bool{
		"abc-123":                      true,
		"a.b_c-D9":                     true,
		strings.Repeat("x", 64):        true,
		strings.Repeat("x", 65):        false,
		"<script>alert(1)</script>":    false,
		"a b":                          false,
		"id;rel=next":                  false,
		"caf\u00e9":                    false,
		"550e8400-e29b-41d4-a716-4466": true,
	} {
		rec := f.do(req{method: "GET", path: "/-/", header: map[string]string{"X-Request-Id": id}})
		got := rec.Header().Get("X-Request-Id")
		if (got == id) != kept || !validRequestID(got) {
			t.Errorf("request id %q answered as %q; kept: %v, want %v", id, got, got == id, kept)
		}
	}
}

// Every 405 names what the target takes in Allow; a method nobody
// implements is a 501.
func TestMethodNotAllowed(t *testing.T) {
	f := newFixture(t)
	for _, p := range []string{"/-/", wellKnownQuery} {
		for _, m := range []string{"PATCH", "TRACE", "OPTIONS", "PROPFIND"} {
			rec := f.do(req{method: m, path: p})
			if rec.Code != 405 || rec.Header().Get("Allow") != "GET, HEAD, POST, PUT, DELETE" {
				t.Errorf("%s %s: %d Allow %q", m, p, rec.Code, rec.Header().Get("Allow"))
				continue
			}
			if code, msg := problem(t, rec); code != "MethodNotAllowed" || !strings.Contains(msg, m) {
				t.Errorf("%s %s: %s %q", m, p, code, msg)
			}
		}
	}
	for _, p := range []string{"/-/", "/compute/", "/compute/x"} {
		rec := f.do(req{method: "BREW", path: p})
		if code, _ := problem(t, rec); rec.Code != 501 || code != "Unimplemented" {
			t.Errorf("BREW %s: %d %s", p, rec.Code, code)
		}
	}
	// The hook the dispatcher answers its 405s with.
	f.srv.echo.Any("/hook", f.srv.wrap(func(r *request) (*reply, error) {
		return nil, notAllowed(r, "the hook", http.MethodGet, http.MethodDelete)
	}))
	rec := f.do(req{method: "PUT", path: "/hook"})
	if code, msg := problem(t, rec); rec.Code != 405 || rec.Header().Get("Allow") != "GET, DELETE" || code != "MethodNotAllowed" || !strings.Contains(msg, "PUT is not allowed on the hook") {
		t.Errorf("notAllowed: %d Allow %q %s %q", rec.Code, rec.Header().Get("Allow"), code, msg)
	}
	rec = f.do(req{method: "HEAD", path: "/hook"})
	if rec.Code != 405 || rec.Header().Get("Allow") != "GET, DELETE" || rec.Body.Len() != 0 {
		t.Errorf("HEAD notAllowed: %d Allow %q %q", rec.Code, rec.Header().Get("Allow"), rec.Body)
	}
}

// Once origins are allowed, every answer varies by Origin, those to
// requests without one too: a shared cache must not serve them to an
// allowed page without the CORS fields.
func TestVaryOriginWhenOriginsAreAllowed(t *testing.T) {
	f := newFixture(t)
	if rec := f.do(req{method: "GET", path: "/-/"}); rec.Header().Get("Vary") != "" && strings.Contains(rec.Header().Get("Vary"), "Origin") {
		t.Errorf("Vary: Origin without allowed origins: %q", rec.Header().Values("Vary"))
	}
	f.reconfigure(Config{AllowedOrigins: []string{"https://ui.example.net"}})
	rec := f.do(req{method: "GET", path: "/-/"})
	if !strings.Contains(strings.Join(rec.Header().Values("Vary"), ","), "Origin") {
		t.Errorf("no Vary: Origin on an answer without Origin: %q", rec.Header().Values("Vary"))
	}
}
