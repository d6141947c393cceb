package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime/debug"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// Version is ocni's version, set at build time with
// -ldflags "-X github.com/ocni/ocni/server.Version=...".
var Version = "0.1.0-dev"

// DefaultBodyLimit is the largest request body accepted unless configured.
const DefaultBodyLimit = 1 << 20

// Config wires a Server.
type Config struct {
	// Engine runs entity operations.
	Engine *engine.Engine
	// Codecs are the renderings spoken; renderers.DefaultSet() if nil.
	Codecs *renderers.Set
	// BodyLimit is the largest request body in bytes; DefaultBodyLimit if 0.
	BodyLimit int64
	// Logger receives one line per request; slog.Default if nil.
	Logger *slog.Logger
	// PublicURL is the scheme and authority clients reach the server at
	// (behind a proxy, say): rendered URLs use it, and link ends under it
	// are this server's. Empty: each request's own.
	PublicURL *url.URL
	// Auth tells who sends each request; nil serves everyone, unnamed,
	// with every right (an open server, for loopback).
	Auth Authenticator
	// AllowedHosts are the Host header values served: "name:port" matches
	// that port only, a bare name or address any port. Others get a 421, so
	// that a DNS rebinding page cannot reach the server. Empty: any Host.
	AllowedHosts []string
	// AllowedOrigins are the web origins (scheme://host[:port]) whose pages
	// may change things and read answers (CORS). A request that would
	// change something from any other Origin is refused.
	AllowedOrigins []string
	// TrustedProxies are the peers whose X-Forwarded-* and X-Real-IP
	// header fields are believed; everyone else's are dropped on arrival.
	TrustedProxies []*net.IPNet
	// BodyTimeout bounds the time to receive a request body, from the end
	// of its header; 0: unbounded.
	BodyTimeout time.Duration
	// WriteTimeout bounds the time to send an answer once it is ready; 0:
	// unbounded.
	WriteTimeout time.Duration
}

// Server is the OCCI HTTP server.
type Server struct {
	echo    *echo.Echo
	engine  *engine.Engine
	codecs  *renderers.Set
	limit   int64
	log     *slog.Logger
	banner  string
	models  modelCache
	public  *url.URL
	auth    Authenticator
	hosts   hostSet
	origins map[string]bool
	proxies []*net.IPNet
	// bodyTime and writeTime are Config's BodyTimeout and WriteTimeout.
	bodyTime, writeTime time.Duration
}

// New returns a server ready to serve.
func New(cfg Config) *Server {
	s := &Server{
		echo:   echo.New(),
		engine: cfg.Engine,
		codecs: cfg.Codecs,
		limit:  cfg.BodyLimit,
		log:    cfg.Logger,
		banner: fmt.Sprintf("ocni/%s OCCI/1.2 OCCI-CRTP/1.1", Version),
		public: cfg.PublicURL,
		auth:   cfg.Auth,
		hosts:  newHostSet(cfg.AllowedHosts),
		// Proxies are copied: the server must not see them change.
		proxies:   append([]*net.IPNet(nil), cfg.TrustedProxies...),
		bodyTime:  cfg.BodyTimeout,
		writeTime: cfg.WriteTimeout,
	}
	s.origins = make(map[string]bool, len(cfg.AllowedOrigins))
	for _, o := range cfg.AllowedOrigins {
		s.origins[normalOrigin(o)] = true
	}
	if s.codecs == nil {
		s.codecs = renderers.DefaultSet()
	}
	if s.limit <= 0 {
		s.limit = DefaultBodyLimit
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	e := s.echo
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = s.handleError
	e.IPExtractor = s.clientIP()
	// Who may send what is settled before anything else is read: the
	// Host, then the Origin (a CORS preflight carries no credentials),
	// then the credentials, then the method.
	e.Use(s.observe, s.recoverPanics, s.checkHost, s.checkOrigin, s.authenticate, s.checkMethod, s.checkOCCIVersion)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler. Forwarding header fields from
// untrusted peers are dropped here, before anything can read them, and the
// body's clock starts.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	r = s.forwarded(r)
	r = s.timeBody(w, r)
	s.echo.ServeHTTP(w, r)
}

const (
	keyRequestID = "ocni.request-id"
	keyCodec     = "ocni.codec"
	keyPrincipal = "ocni.principal"
)

// observe gives every request an id, the Server header, and one log line.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req, res := c.Request(), c.Response()
		id := req.Header.Get(echo.HeaderXRequestID)
		if !validRequestID(id) {
			id = newRequestID()
		}
		c.Set(keyRequestID, id)
		res.Header().Set(echo.HeaderXRequestID, id)
		res.Header().Set("Server", s.banner)
		if s.writeTime > 0 {
			// The answer's time starts when it is ready: how long the
			// handler took is bounded elsewhere (lock_wait, the VIM's).
			// net/http clears the deadline after each answer.
			res.Before(func() {
				_ = http.NewResponseController(res.Writer).SetWriteDeadline(time.Now().Add(s.writeTime))
			})
		}
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		attrs := []slog.Attr{
			slog.String("id", id),
			slog.String("method", req.Method),
			slog.String("path", req.URL.RequestURI()),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", c.RealIP()),
		}
		if p, ok := c.Get(keyPrincipal).(Principal); ok {
			attrs = append(attrs, slog.String("user", p.Name))
		}
		s.log.LogAttrs(req.Context(), slog.LevelInfo, "request", attrs...)
		return nil
	}
}

// validRequestID reports whether a client's request id may be kept: it is
// echoed in a header and logged, so it is a short word and nothing else.
func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for i := 0; i < len(id); i++ {
		switch c := id[i]; {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '-':
		default:
			return false
		}
	}
	return true
}

func newRequestID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// recoverPanics turns a panic into a 500 whose log line carries the request
// id and the stack, so that one bad request never takes the server down.
func (s *Server) recoverPanics(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) (err error) {
		defer func() {
			if p := recover(); p != nil {
				if perr, ok := p.(error); ok && errors.Is(perr, http.ErrAbortHandler) {
					panic(p) // net/http's way to abort a response on purpose
				}
				s.log.Error("panic", "id", c.Get(keyRequestID), "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
				err = occi.Errorf(occi.Internal, "panic: %v", p)
			}
		}()
		return next(c)
	}
}

var occiVersionRE = regexp.MustCompile(`(?i)\bOCCI/(\d+)\.(\d+)`)

// checkOCCIVersion answers 501 to a client that announces a newer OCCI than
// the server speaks, as the HTTP protocol asks.
func (s *Server) checkOCCIVersion(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if m := occiVersionRE.FindStringSubmatch(c.Request().UserAgent()); m != nil {
			major, _ := strconv.Atoi(m[1])
			minor, _ := strconv.Atoi(m[2])
			if major > 1 || (major == 1 && minor > 2) {
				return occi.Errorf(occi.Unimplemented, "this server speaks OCCI/1.2; the client announces OCCI/%s.%s", m[1], m[2])
			}
		}
		return next(c)
	}
}

// request is what a handler gets: the echo context, the body already read
// within the limit, and the codecs negotiated for it.
type request struct {
	echo.Context
	server *Server
	body   []byte
}

// decode reads the request body with the codec its Content-Type names.
func (r *request) decode(v any) error {
	codec, err := r.server.codecs.ForRequest(r.Request().Header.Get(echo.HeaderContentType))
	if err != nil {
		return err
	}
	if err := codec.Decode(r.Request().Header, r.body, v); err != nil {
		return err
	}
	// The text renderings carry no types: values take their definitions'.
	renderers.TypeAttributes(codec, v, r.server.engine.Model().All())
	return nil
}

// hasBody reports whether the request came with a body, or with content in
// the header fields of a rendering that carries it there (text/occi). On
// GET and HEAD such header fields are filters, and read as such.
func (r *request) hasBody() bool {
	if len(bytes.TrimSpace(r.body)) > 0 {
		return true
	}
	req := r.Request()
	if req.Method == http.MethodGet || req.Method == http.MethodHead {
		return false
	}
	codec, err := r.server.codecs.ForRequest(req.Header.Get(echo.HeaderContentType))
	hc, ok := codec.(renderers.HeaderContent)
	return err == nil && ok && hc.HasContent(req.Header)
}

// reply is what a handler returns.
type reply struct {
	status int
	body   any // a message for the codec; nil for none
	header http.Header
}

type handler func(*request) (*reply, error)

// wrap adapts a handler to echo: it negotiates the response rendering before
// any work is done (a 406 must not follow a side effect), reads the body
// within the limit, runs the handler and encodes its reply.
func (s *Server) wrap(h handler) echo.HandlerFunc {
	return func(c echo.Context) error {
		out, err := s.codecs.ForResponse(c.Request().Header.Get(echo.HeaderAccept), c.Request().UserAgent())
		if err != nil {
			return err
		}
		c.Set(keyCodec, out)
		if err := renderers.CheckOCCIHeaders(c.Request().Header); err != nil {
			return err
		}
		// text/uri-list answers listings only: refuse anything else before
		// it changes anything (a single create answers its location).
		if p := c.Request().URL.Path; renderers.ListsOnly(out) && !listingPath(p) {
			return occi.Errorf(occi.InvalidArgument, "text/uri-list renders listings only, and %s is not a collection; use text/plain, text/occi or %s", p, renderers.JSONMediaType)
		}
		body, err := s.readBody(c.Request())
		if err != nil {
			return err
		}
		rep, err := h(&request{Context: c, server: s, body: body})
		if err != nil {
			return err
		}
		return s.write(c, out, rep)
	}
}

// notAllowedError is a 405 that names the methods its target takes, for
// the Allow header every 405 carries.
type notAllowedError struct {
	err     error
	allowed []string
}

func (e *notAllowedError) Error() string { return e.err.Error() }
func (e *notAllowedError) Unwrap() error { return e.err }

// notAllowed is the 405 for a method that what (a target, described for the
// client) does not take; allowed are the methods it does take, which
// handleError writes in the Allow header.
func notAllowed(c echo.Context, what string, allowed ...string) error {
	return &notAllowedError{
		err:     occi.Errorf(occi.MethodNotAllowed, "%s is not allowed on %s, which takes %s", c.Request().Method, what, strings.Join(allowed, ", ")),
		allowed: allowed,
	}
}

// listingPath reports whether a path may answer with a listing: a
// collection, a mixin's members or a path prefix, not the query interface.
func listingPath(p string) bool {
	return strings.HasSuffix(p, "/") && p != queryPath && p != wellKnownQuery
}

func (s *Server) readBody(req *http.Request) ([]byte, error) {
	if req.ContentLength > s.limit {
		return nil, tooLarge(s.limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, req.Body, s.limit))
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return nil, tooLarge(s.limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, bodyTimedOut(s.bodyTime)
	}
	if err != nil {
		return nil, occi.Errorf(occi.InvalidArgument, "the request body cannot be read: %v", err)
	}
	return body, nil
}

func tooLarge(limit int64) error {
	return occi.Errorf(occi.TooLarge, "the request body is larger than the limit of %d bytes", limit)
}

func (s *Server) write(c echo.Context, codec renderers.Codec, rep *reply) error {
	res := c.Response()
	for k, vs := range rep.header {
		if k == echo.HeaderVary {
			// Middleware may vary the answer too (by Origin).
			res.Header()[k] = append(res.Header()[k], vs...)
			continue
		}
		res.Header()[k] = vs
	}
	if rep.body == nil {
		return c.NoContent(rep.status)
	}
	if pre, ok := rep.body.(*preEncoded); ok {
		for k, vs := range pre.header {
			res.Header()[k] = vs
		}
		res.WriteHeader(rep.status)
		_, err := res.Write(pre.body)
		return err
	}
	var buf bytes.Buffer
	if err := codec.Encode(res.Header(), &buf, rep.body); err != nil {
		return err
	}
	res.WriteHeader(rep.status)
	_, err := res.Write(buf.Bytes())
	return err
}

// handleError renders every error, from handlers or from echo itself, in
// the negotiated rendering (the default one when negotiation is what
// failed), with the status of its code.
func (s *Server) handleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	code := occi.CodeOf(err)
	msg := err.Error()
	var he *echo.HTTPError
	if errors.As(err, &he) {
		code = codeOfStatus(he.Code)
		msg = fmt.Sprint(he.Message)
		if he.Code == http.StatusNotFound {
			msg = "nothing is at " + c.Request().URL.Path
		}
		if he.Code == http.StatusMethodNotAllowed {
			msg = c.Request().Method + " is not allowed on " + c.Request().URL.Path
		}
	}
	status, name := statusOf(code), code.String()
	res := c.Response()
	var conn *connectionError
	var na *notAllowedError
	switch {
	case errors.As(err, &conn):
		status, name = conn.status, conn.name
	case errors.As(err, &na):
		res.Header().Set(echo.HeaderAllow, strings.Join(na.allowed, ", "))
	case code == occi.Unauthenticated:
		res.Header().Set(echo.HeaderWWWAuthenticate, s.challenge())
	}
	id, _ := c.Get(keyRequestID).(string)
	var vimErr *engine.VIMError
	fromVIM := errors.As(err, &vimErr)
	switch {
	case conn != nil:
		// The HTTP layer's own words: nothing to hide or log.
	case fromVIM:
		// The VIM's own words, which an operator needs, without secrets.
		msg = engine.Redact(msg)
		if code == occi.Internal {
			s.log.Error("VIM error", "id", id, "error", msg)
			msg += " (request id " + id + ")"
		}
	case code == occi.Internal:
		s.log.Error("internal error", "id", id, "error", err.Error())
		msg = "internal error; the server log has the details under request id " + id
	}
	codec, _ := c.Get(keyCodec).(renderers.Codec)
	if codec == nil {
		var nerr error
		if codec, nerr = s.codecs.ForResponse(c.Request().Header.Get(echo.HeaderAccept), c.Request().UserAgent()); nerr != nil {
			codec = s.codecs.Default()
		}
	}
	problem := &renderers.Problem{Status: status, Code: name, Message: msg, RequestID: id}
	var buf bytes.Buffer
	if eerr := codec.Encode(res.Header(), &buf, problem); eerr != nil {
		s.log.Error("cannot render error", "id", id, "error", eerr.Error())
		res.Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
		buf.Reset()
		buf.WriteString(msg + "\n")
	}
	if c.Request().Method == http.MethodHead {
		buf.Reset()
	}
	res.WriteHeader(status)
	_, _ = res.Write(buf.Bytes())
}
