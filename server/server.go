package server

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
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
}

// Server is the OCCI HTTP server.
type Server struct {
	echo   *echo.Echo
	engine *engine.Engine
	codecs *renderers.Set
	limit  int64
	log    *slog.Logger
	banner string
	models modelCache
	public *url.URL
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
	e.Use(s.observe, s.recoverPanics, s.checkOCCIVersion)
	s.routes()
	return s
}

// ServeHTTP implements http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.echo.ServeHTTP(w, r) }

const (
	keyRequestID = "ocni.request-id"
	keyCodec     = "ocni.codec"
)

// observe gives every request an id, the Server header, and one log line.
func (s *Server) observe(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		req, res := c.Request(), c.Response()
		id := req.Header.Get(echo.HeaderXRequestID)
		if id == "" || len(id) > 128 || !printable(id) {
			id = newRequestID()
		}
		c.Set(keyRequestID, id)
		res.Header().Set(echo.HeaderXRequestID, id)
		res.Header().Set("Server", s.banner)
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		s.log.LogAttrs(req.Context(), slog.LevelInfo, "request",
			slog.String("id", id),
			slog.String("method", req.Method),
			slog.String("path", req.URL.RequestURI()),
			slog.Int("status", res.Status),
			slog.Int64("bytes", res.Size),
			slog.Duration("duration", time.Since(start)),
			slog.String("remote", c.RealIP()),
		)
		return nil
	}
}

func printable(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
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
	id, _ := c.Get(keyRequestID).(string)
	var vimErr *engine.VIMError
	fromVIM := errors.As(err, &vimErr)
	switch {
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
	status := statusOf[code]
	codec, _ := c.Get(keyCodec).(renderers.Codec)
	if codec == nil {
		var nerr error
		if codec, nerr = s.codecs.ForResponse(c.Request().Header.Get(echo.HeaderAccept), c.Request().UserAgent()); nerr != nil {
			codec = s.codecs.Default()
		}
	}
	problem := &renderers.Problem{Status: status, Code: code.String(), Message: msg, RequestID: id}
	var buf bytes.Buffer
	res := c.Response()
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
