package renderers

import (
	"io"
	"mime"
	"net/http"
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
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return nil, occi.Errorf(occi.UnsupportedMediaType, "Content-Type %q cannot be parsed: %v", contentType, err)
	}
	if c, ok := s.byType[mt]; ok {
		return c, nil
	}
	if mt == "application/json" { // plain JSON clients mean the OCCI JSON rendering
		if c, ok := s.byType[JSONMediaType]; ok {
			return c, nil
		}
	}
	return nil, occi.Errorf(occi.UnsupportedMediaType, "Content-Type %q is not supported; use one of %s", mt, strings.Join(s.MediaTypes(), ", "))
}

// ForResponse returns the codec for the response, from the Accept header.
// An absent Accept, or one that accepts anything, gets the default codec.
func (s *Set) ForResponse(accept string) (Codec, error) {
	if strings.TrimSpace(accept) == "" {
		return s.Default(), nil
	}
	ranges := parseAccept(accept)
	best, bestQ := Codec(nil), 0.0
	// For each codec, the most specific matching range decides its q;
	// among codecs, the highest q wins, then the set's order.
	for _, c := range s.codecs {
		q, spec := 0.0, -1
		for _, r := range ranges {
			sp := r.matches(c.MediaType())
			// Plain JSON clients mean the OCCI JSON rendering.
			if c.MediaType() == JSONMediaType && r.typ == "application" && r.sub == "json" {
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
