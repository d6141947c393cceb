package renderers

import (
	"io"
	"mime"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/ocni/ocni/occi"
)

// Codec reads and writes one media type.
type Codec interface {
	// MediaType is the type the codec renders, without parameters.
	MediaType() string
	// Decode reads a request message into v, a pointer to one of the
	// message types. Renderings that carry data in headers read h.
	Decode(h http.Header, body []byte, v any) error
	// Encode writes a response message. Renderings that carry data in
	// headers set them in h; the caller sends h before w's content.
	Encode(h http.Header, w io.Writer, v any) error
}

// Set is the codecs a server speaks, in order of preference.
type Set struct {
	codecs []Codec
	byType map[string]Codec
}

// NewSet returns a set of codecs; the first is the default rendering.
func NewSet(codecs ...Codec) *Set {
	s := &Set{codecs: codecs, byType: make(map[string]Codec, len(codecs))}
	for _, c := range codecs {
		s.byType[c.MediaType()] = c
	}
	return s
}

// Default returns the default codec, used when a client states no
// preference, and for errors when nothing better can be chosen.
func (s *Set) Default() Codec { return s.codecs[0] }

// MediaTypes lists the media types of the set.
func (s *Set) MediaTypes() []string {
	out := make([]string, len(s.codecs))
	for i, c := range s.codecs {
		out[i] = c.MediaType()
	}
	return out
}

// ForRequest returns the codec for a request body of the given Content-Type.
// A body without Content-Type is read with the default codec.
func (s *Set) ForRequest(contentType string) (Codec, error) {
	if strings.TrimSpace(contentType) == "" {
		return s.Default(), nil
	}
	if strings.Contains(contentType, ",") {
		// rOCCI sends "text/occi,text/plain": the first type this server
		// reads decides.
		for _, part := range strings.Split(contentType, ",") {
			if c, err := s.ForRequest(part); err == nil {
				return c, nil
			}
		}
	}
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, occi.Errorf(occi.UnsupportedMediaType, "Content-Type %q cannot be parsed: %v", contentType, err)
	}
	if c, ok := s.byType[mt]; ok {
		return c, nil
	}
	if c, ok := s.byType[aliases[mt]]; ok {
		return c, nil
	}
	return nil, occi.Errorf(occi.UnsupportedMediaType, "Content-Type %q is not supported; use one of %s", mt, strings.Join(s.MediaTypes(), ", "))
}

// aliases are media types read and written by the codec of another.
var aliases = map[string]string{
	"application/json": JSONMediaType,      // plain JSON clients mean the OCCI JSON rendering
	"text/occi+plain":  TextPlainMediaType, // GFD.229 §6 names text/plain so as well
}

// DefaultSet returns the renderings ocni speaks: the OCCI JSON rendering,
// the default, then text/plain, text/occi and text/uri-list.
func DefaultSet() *Set {
	return NewSet(JSON{}, TextPlain{}, TextOCCI{}, URIList{})
}

// ForResponse returns the codec for the response, from the Accept header
// and the User-Agent. An explicit Accept decides, by its q-values; among
// equally acceptable codecs the set's order decides. An absent Accept, or
// one that accepts anything, gets the default codec, except that a client
// announcing OCCI/1.1 (or older) in its User-Agent prefers text/plain, the
// default of OCCI 1.1, and gets the OCCI 1.1 form of the text renderings.
func (s *Set) ForResponse(accept, userAgent string) (Codec, error) {
	order, legacy := s.codecs, announcesOCCI11(userAgent)
	if legacy {
		order = s.legacyOrder()
	}
	best, err := s.negotiate(order, accept)
	if err != nil {
		return nil, err
	}
	if r, ok := best.(occi11Renderer); ok && legacy {
		best = r.forOCCI11()
	}
	return best, nil
}

func (s *Set) negotiate(order []Codec, accept string) (Codec, error) {
	if strings.TrimSpace(accept) == "" {
		return order[0], nil
	}
	ranges := parseAccept(accept)
	best, bestQ := Codec(nil), 0.0
	// For each codec, the most specific matching range decides its q;
	// among codecs, the highest q wins, then the order.
	for _, c := range order {
		q, spec := 0.0, -1
		for _, r := range ranges {
			sp := r.matches(c.MediaType())
			if aliases[r.typ+"/"+r.sub] == c.MediaType() {
				sp = 2
			}
			if sp > spec {
				q, spec = r.q, sp
			}
		}
		if spec >= 0 && q > bestQ {
			best, bestQ = c, q
		}
	}
	if best == nil {
		return nil, occi.Errorf(occi.NotAcceptable, "no acceptable rendering for Accept %q; this server renders %s", accept, strings.Join(s.MediaTypes(), ", "))
	}
	return best, nil
}

// legacyOrder is the set's order with text/plain first.
func (s *Set) legacyOrder() []Codec {
	plain, ok := s.byType[TextPlainMediaType]
	if !ok {
		return s.codecs
	}
	out := append(make([]Codec, 0, len(s.codecs)), plain)
	for _, c := range s.codecs {
		if c.MediaType() != TextPlainMediaType {
			out = append(out, c)
		}
	}
	return out
}

var occiVersionRE = regexp.MustCompile(`(?i)\bOCCI/(\d+)\.(\d+)`)

// announcesOCCI11 reports whether a User-Agent announces OCCI 1.1 or older:
// the highest OCCI/X.Y it names, so that a product called "occi" does not
// pass for a version.
func announcesOCCI11(userAgent string) bool {
	found, major, minor := false, 0, 0
	for _, m := range occiVersionRE.FindAllStringSubmatch(userAgent, 8) {
		x, err1 := strconv.Atoi(m[1])
		y, err2 := strconv.Atoi(m[2])
		if err1 == nil && err2 == nil && (!found || x > major || x == major && y > minor) {
			found, major, minor = true, x, y
		}
	}
	return found && (major == 0 || major == 1 && minor <= 1)
}

type mediaRange struct {
	typ, sub string
	q        float64
}

// matches returns how specifically the range matches mt (2 exact, 1 type/*,
// 0 */*), or -1.
func (r mediaRange) matches(mt string) int {
	typ, sub, _ := strings.Cut(mt, "/")
	switch {
	case r.typ == "*" && r.sub == "*":
		return 0
	case r.typ == typ && r.sub == "*":
		return 1
	case r.typ == typ && r.sub == sub:
		return 2
	}
	return -1
}

func parseAccept(accept string) []mediaRange {
	var out []mediaRange
	for _, part := range strings.Split(accept, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		mt, params, err := mime.ParseMediaType(part)
		if err != nil {
			continue // a malformed range is ignored, as RFC 9110 lets us
		}
		typ, sub, ok := strings.Cut(mt, "/")
		if !ok {
			continue
		}
		q := 1.0
		if v, ok := params["q"]; ok {
			f, err := strconv.ParseFloat(v, 64)
			if err != nil || f < 0 || f > 1 {
				continue // an unreadable weight: ignore the range
			}
			q = f
		}
		out = append(out, mediaRange{typ: typ, sub: sub, q: q})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].q > out[j].q })
	return out
}
