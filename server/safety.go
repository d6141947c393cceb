package server

import (
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ocni/ocni/occi"
)

// What a client may not decide alone: the peer address and scheme it is
// logged and linked with (proxies), the host it addresses (DNS rebinding),
// the web page it acts for (CSRF), and how long it takes to send a body.

// forwardedFields are the header fields through which a proxy tells the
// client's address, scheme and host. Anyone else could lie with them.
var forwardedFields = []string{
	"Forwarded", "X-Forwarded-For", "X-Real-Ip", "X-Forwarded-Host",
	"X-Forwarded-Proto", "X-Forwarded-Protocol", "X-Forwarded-Ssl", "X-Url-Scheme",
}

// forwarded drops the forwarding fields of a peer that is not a trusted
// proxy, and takes a trusted proxy's X-Forwarded-Host as the request's
// Host (checked against allowed_hosts like any Host). The request is
// copied before it changes: the caller's stays as it came.
func (s *Server) forwarded(r *http.Request) *http.Request {
	if s.trusted(r.RemoteAddr) {
		fh := r.Header.Get("X-Forwarded-Host")
		if fh == "" {
			return r
		}
		// Each proxy appends; the first is what the client asked for.
		host, _, _ := strings.Cut(fh, ",")
		r2 := *r
		r2.Host = strings.TrimSpace(host)
		return &r2
	}
	var r2 *http.Request
	for _, f := range forwardedFields {
		if _, ok := r.Header[f]; !ok {
			continue
		}
		if r2 == nil {
			c := *r
			c.Header = r.Header.Clone()
			r2 = &c
		}
		delete(r2.Header, f)
	}
	if r2 == nil {
		return r
	}
	return r2
}

// trusted reports whether a peer address (ip:port) is a trusted proxy's.
func (s *Server) trusted(remote string) bool {
	if len(s.proxies) == 0 {
		return false
	}
	ap, err := netip.ParseAddrPort(remote)
	if err != nil {
		return false
	}
	ip := net.IP(ap.Addr().Unmap().AsSlice())
	for _, n := range s.proxies {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// clientIP is echo's RealIP: the peer's address, or, from a trusted proxy,
// the nearest address its X-Forwarded-For or X-Real-IP names that is not
// itself a trusted proxy. echo would otherwise trust loopback and private
// networks.
func (s *Server) clientIP() echo.IPExtractor {
	opts := []echo.TrustOption{echo.TrustLoopback(false), echo.TrustLinkLocal(false), echo.TrustPrivateNet(false)}
	for _, n := range s.proxies {
		opts = append(opts, echo.TrustIPRange(n))
	}
	xff, xri := echo.ExtractIPFromXFFHeader(opts...), echo.ExtractIPFromRealIPHeader(opts...)
	return func(r *http.Request) string {
		if r.Header.Get(echo.HeaderXForwardedFor) != "" {
			return xff(r)
		}
		return xri(r)
	}
}

// timeBody starts the body's clock: the connection's read deadline is set
// once the header is in, and cleared when the body has all arrived, so
// that a slow body holds its connection for at most the body timeout and a
// long operation after it is not cut.
func (s *Server) timeBody(w http.ResponseWriter, r *http.Request) *http.Request {
	if s.bodyTime <= 0 || r.Body == nil || r.Body == http.NoBody {
		return r
	}
	rc := http.NewResponseController(w)
	if rc.SetReadDeadline(time.Now().Add(s.bodyTime)) != nil {
		return r // not a network connection (a test recorder)
	}
	r2 := *r
	r2.Body = &timedBody{ReadCloser: r.Body, rc: rc}
	return &r2
}

// timedBody clears the read deadline at the end of the body. net/http
// happens to clear it too, when it starts watching for the client going
// away, but does not say so.
type timedBody struct {
	io.ReadCloser
	rc   *http.ResponseController
	done bool
}

func (b *timedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF && !b.done { //nolint:errorlint // io.Reader returns io.EOF itself
		b.done = true
		_ = b.rc.SetReadDeadline(time.Time{})
	}
	return n, err
}

// hostSet is the Host values served: exact "name:port" pairs, and names
// served on any port.
type hostSet struct {
	exact, anyPort map[string]bool
}

func newHostSet(hosts []string) hostSet {
	if len(hosts) == 0 {
		return hostSet{}
	}
	hs := hostSet{exact: map[string]bool{}, anyPort: map[string]bool{}}
	for _, h := range hosts {
		h = strings.ToLower(strings.TrimSpace(h))
		if name, port, err := net.SplitHostPort(h); err == nil && port != "" {
			hs.exact[net.JoinHostPort(name, port)] = true
			continue
		}
		hs.anyPort[strings.TrimSuffix(strings.TrimPrefix(h, "["), "]")] = true
	}
	return hs
}

func (hs hostSet) allows(host string) bool {
	if hs.exact == nil {
		return true
	}
	host = strings.ToLower(host)
	if hs.exact[host] {
		return true
	}
	name, _, err := net.SplitHostPort(host)
	if err != nil {
		name = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	}
	return hs.anyPort[name]
}

// checkHost answers 421 to a Host the server does not serve: a page whose
// name was rebound to this server's address names its own host.
func (s *Server) checkHost(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if host := c.Request().Host; !s.hosts.allows(host) {
			return misdirected(host)
		}
		return next(c)
	}
}

// normalOrigin writes an origin the way browsers send it: scheme and host
// in lower case, no default port.
func normalOrigin(o string) string {
	o = strings.ToLower(strings.TrimSpace(o))
	u, err := url.Parse(o)
	if err != nil || u.Host == "" {
		return o
	}
	host := u.Host
	if p := u.Port(); (u.Scheme == "http" && p == "80") || (u.Scheme == "https" && p == "443") {
		host = u.Hostname()
		if strings.Contains(host, ":") {
			host = "[" + host + "]"
		}
	}
	return u.Scheme + "://" + host
}

// The CORS answer to an allowed origin: what its pages may send and read.
const (
	corsMethods = "GET, HEAD, POST, PUT, DELETE"
	corsHeaders = "Authorization, Content-Type, Accept, Category, Link, X-OCCI-Attribute, X-OCCI-Location, If-None-Match, X-Request-Id"
	corsExposed = "Location, Link, ETag, Allow, WWW-Authenticate, X-Request-Id, Category, X-OCCI-Attribute, X-OCCI-Location"
)

// checkOrigin guards against cross-site requests: a browser names the page
// a request comes from in Origin, and sends some (a POST of text/plain,
// say) without asking first. A request from an origin not in
// allowed_origins may read (the browser hides the answer from the page)
// but not change anything; an allowed origin gets the CORS header fields,
// and its preflights are answered here, before credentials, which
// browsers do not send with them.
func (s *Server) checkOrigin(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req, res := c.Request(), c.Response()
		origin := req.Header.Get(echo.HeaderOrigin)
		if len(s.origins) > 0 {
			// Answers differ by Origin once origins are allowed: a shared
			// cache must not hand one without the CORS fields to an
			// allowed page, whether or not this request had an Origin.
			res.Header().Add(echo.HeaderVary, echo.HeaderOrigin)
		}
		if origin == "" {
			return next(c)
		}
		preflight := req.Method == http.MethodOptions && req.Header.Get(echo.HeaderAccessControlRequestMethod) != ""
		if !s.origins[normalOrigin(origin)] {
			if preflight || !safeMethod(req.Method) {
				return occi.Errorf(occi.Forbidden, "a page from %.100q may not change anything here: that origin is not in allowed_origins", origin)
			}
			return next(c)
		}
		h := res.Header()
		h.Set(echo.HeaderAccessControlAllowOrigin, origin)
		h.Set(echo.HeaderAccessControlAllowCredentials, "true")
		if preflight {
			h.Set(echo.HeaderAccessControlAllowMethods, corsMethods)
			h.Set(echo.HeaderAccessControlAllowHeaders, corsHeaders)
			h.Set(echo.HeaderAccessControlMaxAge, "600")
			return c.NoContent(http.StatusNoContent)
		}
		h.Set(echo.HeaderAccessControlExposeHeaders, corsExposed)
		return next(c)
	}
}

func safeMethod(m string) bool {
	return m == http.MethodGet || m == http.MethodHead || m == http.MethodOptions
}

// knownMethods are the methods echo routes; any other is not implemented
// at all, which RFC 9110 answers with a 501 rather than a 405.
var knownMethods = map[string]bool{
	http.MethodConnect: true, http.MethodDelete: true, http.MethodGet: true, http.MethodHead: true,
	http.MethodOptions: true, http.MethodPatch: true, http.MethodPost: true, echo.PROPFIND: true,
	http.MethodPut: true, http.MethodTrace: true, echo.REPORT: true,
}

// queryMethods are the methods the query interface takes.
var queryMethods = []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete}

// checkMethod answers a method nobody implements with 501, and one the
// query interface does not take with 405 and its Allow list. The
// dispatcher answers the 405s of the other paths with notAllowed.
func (s *Server) checkMethod(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		if !knownMethods[req.Method] {
			return occi.Errorf(occi.Unimplemented, "the method %.20q is not implemented; ocni serves %s", req.Method, corsMethods)
		}
		if p := req.URL.Path; p == queryPath || p == wellKnownQuery {
			switch req.Method {
			case http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodDelete:
			default:
				return notAllowed(c, "the query interface", queryMethods...)
			}
		}
		return next(c)
	}
}
