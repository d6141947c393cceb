package server

import (
	"bytes"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// The query interface's two addresses.
const (
	queryPath      = "/-/"
	wellKnownQuery = "/.well-known/org/ogf/occi/-/"
)

func (s *Server) routes() {
	for _, p := range []string{queryPath, wellKnownQuery} {
		s.echo.GET(p, s.wrap(s.getCategories))
		s.echo.HEAD(p, s.wrap(s.getCategories))
		s.echo.POST(p, s.wrap(s.addCategories))
		s.echo.PUT(p, s.wrap(s.replaceCategories))
		s.echo.DELETE(p, s.wrap(s.removeCategories))
	}
	s.echo.Any("/*", s.wrap(s.dispatch))
}

// requestedCategories gathers the categories a request names: ?category=
// parameters, Category headers (the text rendering's filter) and a body in
// the request's rendering (pyOCNI's filter and delete bodies).
func requestedCategories(r *request) ([]string, error) {
	ids := r.QueryParams()["category"]
	for i, id := range ids {
		if err := occi.ValidID(id); err != nil {
			return nil, occi.Prefix("query parameter category["+strconv.Itoa(i)+"]", err)
		}
	}
	fromHeader, err := renderers.ParseCategoryHeader(r.Request().Header.Values("Category"))
	if err != nil {
		return nil, err
	}
	ids = append(ids, fromHeader...)
	if r.hasBody() {
		var refs renderers.CategoryRefs
		if err := r.decode(&refs); err != nil {
			return nil, err
		}
		ids = append(ids, refs.IDs...)
	}
	return ids, nil
}

func queryInterface(snap engine.Model, cats *occi.Categories) *renderers.QueryInterface {
	return &renderers.QueryInterface{Categories: cats, Bindings: snap.Bindings()}
}

// getCategories answers the query interface, whole or filtered. The ETag is
// the registry's version, so clients and proxies can cache the model until
// an operator changes it.
func (s *Server) getCategories(r *request) (*reply, error) {
	snap := s.engine.Model()
	ids, err := requestedCategories(r)
	if err != nil {
		return nil, err
	}
	cats := snap.All()
	if len(ids) > 0 {
		if cats, err = snap.Select(ids); err != nil {
			return nil, err
		}
	}
	etag := `"` + strconv.FormatUint(snap.Version(), 10) + `"`
	h := http.Header{"Etag": {etag}, "Vary": {"Accept, User-Agent"}}
	if len(ids) > 0 {
		return &reply{status: http.StatusOK, body: queryInterface(snap, cats), header: h}, nil
	}
	if etagMatches(r.Request().Header.Get("If-None-Match"), etag) {
		return &reply{status: http.StatusNotModified, header: h}, nil
	}
	pre, err := s.models.get(snap, r)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: pre, header: h}, nil
}

// preEncoded is a reply already rendered: its headers and body.
type preEncoded struct {
	header http.Header
	body   []byte
}

// modelCache keeps the whole query interface rendered, per rendering, for
// the registry's current version: the model changes rarely and is read by
// every client at start, so it is encoded once per change, not per request.
type modelCache struct {
	mu      sync.Mutex
	version uint64
	byKey   map[string]*preEncoded
}

func (m *modelCache) get(snap engine.Model, r *request) (*preEncoded, error) {
	codec, _ := r.Get(keyCodec).(renderers.Codec)
	if codec == nil {
		return nil, occi.Errorf(occi.Internal, "no rendering negotiated")
	}
	key := codec.MediaType()
	if occi11RE.MatchString(r.Request().UserAgent()) {
		key += ";occi=1.1" // renderings may differ for 1.1 clients
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.version != snap.Version() || m.byKey == nil {
		m.version, m.byKey = snap.Version(), map[string]*preEncoded{}
	}
	if pre, ok := m.byKey[key]; ok {
		return pre, nil
	}
	pre := &preEncoded{header: http.Header{}}
	var buf bytes.Buffer
	if err := codec.Encode(pre.header, &buf, queryInterface(snap, snap.All())); err != nil {
		return nil, err
	}
	pre.body = buf.Bytes()
	m.byKey[key] = pre
	return pre, nil
}

var occi11RE = regexp.MustCompile(`(?i)\bOCCI/1\.1\b`)

func etagMatches(ifNoneMatch, etag string) bool {
	for _, t := range strings.Split(ifNoneMatch, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// addCategories registers user kinds, mixins and actions (and bindings).
func (s *Server) addCategories(r *request) (*reply, error) {
	return s.changeCategories(r, func(req *renderers.CategoryRequest) *engine.CategoryChange {
		return &engine.CategoryChange{Add: req.Categories, Bind: req.Bindings}
	})
}

// replaceCategories redefines runtime categories and sets bindings.
func (s *Server) replaceCategories(r *request) (*reply, error) {
	return s.changeCategories(r, func(req *renderers.CategoryRequest) *engine.CategoryChange {
		return &engine.CategoryChange{Replace: req.Categories, Bind: req.Bindings}
	})
}

func (s *Server) changeCategories(r *request, change func(*renderers.CategoryRequest) *engine.CategoryChange) (*reply, error) {
	if !r.hasBody() {
		return nil, occi.Errorf(occi.InvalidArgument, "the request has no body: send the kinds, mixins, actions or providers to register")
	}
	var req renderers.CategoryRequest
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	if req.Categories.Len() == 0 && len(req.Bindings) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "the request names no kind, mixin, action or provider binding")
	}
	snap, err := s.engine.ChangeCategories(r.Request().Context(), change(&req))
	if err != nil {
		return nil, err
	}
	ids := req.Categories.IDs()
	for _, b := range req.Bindings {
		ids = append(ids, b.Kind)
	}
	cats, err := snap.Select(ids)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: queryInterface(snap, cats)}, nil
}

// removeCategories removes runtime categories and answers with what was
// removed.
func (s *Server) removeCategories(r *request) (*reply, error) {
	ids, err := requestedCategories(r)
	if err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "name the categories to remove, in the body or with ?category=")
	}
	before := s.engine.Model()
	// A user mixin removed from the model loses its associations in the
	// same step; a refused removal changes nothing.
	if _, err := s.engine.ChangeCategories(r.Request().Context(), &engine.CategoryChange{Remove: ids}); err != nil {
		return nil, err
	}
	removed, err := before.Select(ids)
	if err != nil {
		return nil, err
	}
	return &reply{status: http.StatusOK, body: queryInterface(before, removed)}, nil
}
