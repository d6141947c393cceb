package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// Version is the client's version, sent in its User-Agent.
const Version = "0.1.0"

// Rendering is the media type the client speaks with the endpoint.
type Rendering string

// The renderings the client can speak. JSON is the OCCI 1.2 default;
// OCCI 1.1 endpoints speak text/plain (and text/occi) only.
const (
	JSON      Rendering = renderers.JSONMediaType
	TextPlain Rendering = renderers.TextPlainMediaType
	TextOCCI  Rendering = renderers.TextOCCIMediaType
)

// maxBody bounds what one answer may hold, so that a misbehaving endpoint
// cannot make the client hold it all in memory.
const maxBody = 64 << 20

// Client speaks OCCI with one endpoint. It is safe for concurrent use.
type Client struct {
	base      *url.URL
	codec     renderers.Codec
	decoders  *renderers.Set
	hc        *http.Client
	user      string
	password  string
	token     string
	timeout   time.Duration
	retries   int
	backoff   time.Duration
	userAgent string
}

// Option configures a Client.
type Option func(*Client) error

// WithRendering chooses the rendering of requests and the one asked for in
// answers: JSON (the default), TextPlain or TextOCCI.
func WithRendering(r Rendering) Option {
	return func(c *Client) error {
		switch r {
		case JSON:
			c.codec = renderers.JSON{}
		case TextPlain:
			c.codec = renderers.TextPlain{}
		case TextOCCI:
			c.codec = renderers.TextOCCI{}
		default:
			return occi.Errorf(occi.InvalidArgument, "rendering %q is not one the client speaks (%s, %s, %s)", r, JSON, TextPlain, TextOCCI)
		}
		return nil
	}
}

// WithBasicAuth sends HTTP Basic credentials with every request.
func WithBasicAuth(user, password string) Option {
	return func(c *Client) error { c.user, c.password, c.token = user, password, ""; return nil }
}

// WithToken sends a bearer token with every request.
func WithToken(token string) Option {
	return func(c *Client) error { c.token, c.user, c.password = token, "", ""; return nil }
}

// WithTimeout bounds each call, its retries included; 0 leaves calls
// bounded by their context only.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) error { c.timeout = d; return nil }
}

// WithRetries retries idempotent requests (GET, HEAD, PUT, DELETE) up to n
// times on 502, 503, 504 and connection errors, waiting backoff, then
// twice as long each time (with jitter, and at least what Retry-After
// asks, up to 30 s). POST is never retried: it may have been done.
func WithRetries(n int, backoff time.Duration) Option {
	return func(c *Client) error {
		if n < 0 || backoff < 0 {
			return occi.Errorf(occi.InvalidArgument, "retries and backoff must not be negative")
		}
		c.retries, c.backoff = n, backoff
		return nil
	}
}

// WithHTTPClient sends requests with hc (its transport, TLS settings,
// proxy) instead of http.DefaultClient.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return occi.Errorf(occi.InvalidArgument, "the HTTP client is nil")
		}
		c.hc = hc
		return nil
	}
}

// WithUserAgent puts a product (a tool's name and version) before the
// client's own in the User-Agent.
func WithUserAgent(product string) Option {
	return func(c *Client) error { c.userAgent = product + " " + defaultUserAgent; return nil }
}

// defaultUserAgent names the client and the OCCI version it speaks:
// servers (ocni among them) choose renderings by the announced version.
const defaultUserAgent = "ocni-client/" + Version + " OCCI/1.2"

// New returns a client of the OCCI endpoint at endpoint, an http or https
// URL; relative locations given to the client resolve against it.
func New(endpoint string, opts ...Option) (*Client, error) {
	u, err := url.Parse(endpoint)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "endpoint %s is not an http or https URL with a host", occi.ShortQuote(endpoint))
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, occi.Errorf(occi.InvalidArgument, "endpoint %s must not carry credentials, a query or a fragment (use WithBasicAuth)", occi.ShortQuote(u.Redacted()))
	}
	// A trailing slash makes "compute/" resolve below the endpoint's path.
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		u.RawPath = ""
	}
	c := &Client{
		base:      u,
		codec:     renderers.JSON{},
		decoders:  renderers.DefaultSet(),
		hc:        http.DefaultClient,
		backoff:   100 * time.Millisecond,
		userAgent: defaultUserAgent,
	}
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// Endpoint returns the endpoint's URL.
func (c *Client) Endpoint() string { return c.base.String() }

// Resolve returns the absolute URL of a location: an http(s) URL is kept,
// anything else resolves against the endpoint ("/compute/x", "compute/").
func (c *Client) Resolve(location string) (string, error) {
	u, err := c.resolve(location)
	if err != nil {
		return "", err
	}
	return u.String(), nil
}

func (c *Client) resolve(location string) (*url.URL, error) {
	if location == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "the location is empty")
	}
	u, err := url.Parse(location)
	if err != nil {
		return nil, occi.Errorf(occi.InvalidArgument, "location %s cannot be parsed: %v", occi.ShortQuote(location), err)
	}
	if u.IsAbs() {
		if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return nil, occi.Errorf(occi.InvalidArgument, "location %s is not an http or https URL with a host", occi.ShortQuote(location))
		}
		return u, nil
	}
	return c.base.ResolveReference(u), nil
}

// sameOrigin reports whether u is on the endpoint's scheme and host.
func (c *Client) sameOrigin(u *url.URL) bool {
	return strings.EqualFold(u.Scheme, c.base.Scheme) && strings.EqualFold(u.Host, c.base.Host)
}

// bodyLocation is how a location is written in a request body: the path
// for the endpoint's own entities, which any server reads whatever name it
// is reached by, and the absolute URL for another endpoint's.
func (c *Client) bodyLocation(location string) (string, error) {
	u, err := c.resolve(location)
	if err != nil {
		return "", err
	}
	if c.sameOrigin(u) {
		return u.EscapedPath(), nil
	}
	return u.String(), nil
}

// call is one exchange: the request, and the answer read whole.
type call struct {
	method string
	url    *url.URL
	msg    any    // encoded with the client's codec; nil: no body
	accept string // "" asks for the client's rendering
}

type answer struct {
	status int
	header http.Header
	body   []byte
	url    *url.URL // the request's URL, which relative answers resolve against
}

func (c *Client) withTimeout(ctx context.Context) (context.Context, context.CancelFunc) {
	if c.timeout > 0 {
		return context.WithTimeout(ctx, c.timeout)
	}
	return context.WithCancel(ctx)
}

// do sends a call, retrying it when it is idempotent and the failure is
// one a retry may cure, and turns error statuses into *Error.
func (c *Client) do(ctx context.Context, k call) (*answer, error) {
	ctx, cancel := c.withTimeout(ctx)
	defer cancel()
	hdr := http.Header{}
	var payload []byte
	if k.msg != nil {
		var err error
		if payload, err = c.encode(hdr, k.msg); err != nil {
			return nil, err
		}
	}
	accept := k.accept
	if accept == "" {
		accept = c.codec.MediaType()
	}
	idempotent := k.method == http.MethodGet || k.method == http.MethodHead || k.method == http.MethodPut || k.method == http.MethodDelete
	wait := c.backoff
	for attempt := 0; ; attempt++ {
		a, err := c.once(ctx, k, hdr, payload, accept)
		retry := idempotent && attempt < c.retries && ctx.Err() == nil
		switch {
		case err != nil && retry:
		case err != nil:
			if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
				return nil, fmt.Errorf("%s %s: %w", k.method, k.url.Redacted(), ctx.Err())
			}
			return nil, fmt.Errorf("%s %s: %w", k.method, k.url.Redacted(), err)
		case retry && retryable(a.status):
			if ra := retryAfter(a.header.Get("Retry-After")); ra > wait {
				wait = ra
			}
		case a.status >= 400:
			return nil, problemOf(k.method, k.url.Redacted(), a)
		default:
			return a, nil
		}
		if err := sleep(ctx, jitter(wait)); err != nil {
			return nil, fmt.Errorf("%s %s: %w", k.method, k.url.Redacted(), err)
		}
		wait = min(2*wait, 30*time.Second)
	}
}

// once sends one attempt and reads the whole answer.
func (c *Client) once(ctx context.Context, k call, hdr http.Header, payload []byte, accept string) (*answer, error) {
	var body io.Reader
	if payload != nil {
		body = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, k.method, k.url.String(), body)
	if err != nil {
		return nil, err
	}
	for name, vs := range hdr {
		req.Header[name] = append([]string(nil), vs...)
	}
	req.Header.Set("Accept", accept)
	req.Header.Set("User-Agent", c.userAgent)
	switch {
	case c.token != "":
		req.Header.Set("Authorization", "Bearer "+c.token)
	case c.user != "":
		req.SetBasicAuth(c.user, c.password)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, occi.Errorf(occi.TooLarge, "the answer is larger than %d bytes", maxBody)
	}
	return &answer{status: resp.StatusCode, header: resp.Header, body: b, url: k.url}, nil
}

// encode renders a request message with the client's codec; header fields
// it sets (Content-Type, text/occi's fields) go in hdr.
func (c *Client) encode(hdr http.Header, msg any) ([]byte, error) {
	var buf bytes.Buffer
	if err := c.codec.Encode(hdr, &buf, msg); err != nil {
		return nil, err
	}
	if _, isJSON := c.codec.(renderers.JSON); isJSON {
		return dropEmptyMembers(buf.Bytes(), msg)
	}
	return buf.Bytes(), nil
}

// dropEmptyMembers removes the members the model types always write and a
// partial update leaves out ("kind": "", link ends without a location):
// sent empty, the server would read them as values.
func dropEmptyMembers(body []byte, msg any) ([]byte, error) {
	var e *occi.Entity
	var l *occi.Link
	switch m := msg.(type) {
	case *occi.Resource:
		e = &m.Entity
	case *occi.Link:
		e, l = &m.Entity, m
	default:
		return body, nil
	}
	if e.Kind != "" && (l == nil || l.Source.Location != "" && l.Target.Location != "") {
		return body, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(body, &members); err != nil {
		return nil, occi.Errorf(occi.Internal, "re-reading the JSON rendering: %v", err)
	}
	if e.Kind == "" {
		delete(members, "kind")
	}
	if l != nil && l.Source.Location == "" {
		delete(members, "source")
	}
	if l != nil && l.Target.Location == "" {
		delete(members, "target")
	}
	return json.Marshal(members)
}

// decode reads an answer's body into v with the codec of its Content-Type.
func (c *Client) decode(a *answer, v any) error {
	codec, err := c.decoders.ForRequest(a.header.Get("Content-Type"))
	if err != nil {
		return fmt.Errorf("reading the answer of %s: %w", a.url.Redacted(), err)
	}
	if err := codec.Decode(a.header, a.body, v); err != nil {
		return fmt.Errorf("reading the answer of %s: %w", a.url.Redacted(), err)
	}
	return nil
}

func retryable(status int) bool {
	return status == http.StatusBadGateway || status == http.StatusServiceUnavailable || status == http.StatusGatewayTimeout
}

func retryAfter(v string) time.Duration {
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return min(time.Duration(s)*time.Second, 30*time.Second)
	}
	return 0
}

// jitter spreads retries of many clients over [d/2, d].
func jitter(d time.Duration) time.Duration {
	if d <= 1 {
		return d
	}
	return d/2 + rand.N(d/2+1) //nolint:gosec // timing jitter, not a secret
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
