package renderers

import (
	"bytes"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ocni/ocni/occi"
)

// The media types of the text renderings (GFD.229 §6 to §8).
const (
	TextPlainMediaType = "text/plain"
	TextOCCIMediaType  = "text/occi"
	URIListMediaType   = "text/uri-list"
)

// TextPlain is the text/plain codec: the fields of the text rendering are
// the lines of the body, "Name: value", one item per line when encoding;
// decoding also reads comma-separated items, folded lines and the literal
// "\n" that some rOCCI renderings put between two fields.
type TextPlain struct {
	// OCCI11 renders for OCCI 1.1 clients, leaving out the kinds of a
	// link's ends (occi.core.source.kind, occi.core.target.kind), which
	// OCCI 1.1's core does not define. The Set's ForResponse chooses this
	// form for a client whose User-Agent announces OCCI/1.1.
	OCCI11 bool
}

// TextOCCI is the text/occi codec: the fields of the text rendering are
// HTTP header fields, and the body is "OK". Encoding writes one header
// field line per item (category, link, attribute, location), repeating the
// field's name: a comma-separated list grows with the entity and soon
// outgrows what clients read in one line (curl, Python's http.client). No
// line exceeds MaxHeaderLine; a rendering with an item that would is
// refused with NotAcceptable, naming text/plain, which has no such limit.
// Decoding reads repeated and comma-separated fields alike, whatever the
// case of their names. An error is rendered as text/plain.
type TextOCCI struct {
	// OCCI11: see TextPlain.
	OCCI11 bool
}

// MaxHeaderLine is the longest header field line text/occi writes,
// "Name: value" without the line break. 8 KiB is the smallest limit common
// servers and clients put on one header line.
const MaxHeaderLine = 8 << 10

// URIList is the text/uri-list codec: it renders listings (collections
// and lists of locations) as one URI per line and reads lists of
// locations. Any other message is an InvalidArgument error, which the
// server answers with 400 as GFD.229 §8 asks; an error is rendered as
// text/plain.
type URIList struct{}

// HeaderContent is implemented by codecs that read a request's content
// from its header fields rather than its body (text/occi).
type HeaderContent interface {
	// HasContent reports whether h holds content for the codec.
	HasContent(h http.Header) bool
}

// ListsOnly reports whether c renders listings only (text/uri-list): a
// server should refuse a request whose answer is not a listing before it
// changes anything.
func ListsOnly(c Codec) bool {
	_, ok := c.(URIList)
	return ok
}

// occi11Renderer is implemented by codecs with a form for OCCI 1.1 clients.
type occi11Renderer interface{ forOCCI11() Codec }

// MediaType implements Codec.
func (TextPlain) MediaType() string { return TextPlainMediaType }

// MediaType implements Codec.
func (TextOCCI) MediaType() string { return TextOCCIMediaType }

// MediaType implements Codec.
func (URIList) MediaType() string { return URIListMediaType }

func (TextPlain) untyped() {}
func (TextOCCI) untyped()  {}
func (URIList) untyped()   {}

func (TextPlain) forOCCI11() Codec { return TextPlain{OCCI11: true} }
func (TextOCCI) forOCCI11() Codec  { return TextOCCI{OCCI11: true} }

// Decode implements Codec.
func (TextPlain) Decode(_ http.Header, body []byte, v any) error {
	fields, err := bodyFields(body)
	if err != nil {
		return err
	}
	return decodeText(fields, v)
}

// textFields renders a message for text/plain and text/occi.
func textFields(v any, occi11 bool) ([]textField, error) {
	fields, err := renderText(v, occi11)
	if err != nil {
		return nil, err
	}
	for _, f := range fields {
		// X-OCCI-Location items are comma-separated on the way in, and a
		// location is written bare: one with a comma would read as two.
		if f.name == fieldLocation && strings.Contains(f.value, ",") {
			return nil, occi.Errorf(occi.NotAcceptable, "location %s holds a comma, which the X-OCCI-Location field of text/plain and text/occi takes for a separator; ask for %s or %s", short(f.value), URIListMediaType, JSONMediaType)
		}
	}
	return fields, nil
}

// Encode implements Codec.
func (c TextPlain) Encode(h http.Header, w io.Writer, v any) error {
	if p, ok := v.(*Problem); ok {
		return encodeProblem(h, w, p)
	}
	fields, err := textFields(v, c.OCCI11)
	if err != nil {
		return err
	}
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(f.name + ": " + f.value + "\n")
	}
	h.Set("Content-Type", TextPlainMediaType)
	_, err = w.Write(b.Bytes())
	return err
}

// Decode implements Codec.
func (TextOCCI) Decode(h http.Header, body []byte, v any) error {
	if b := bytes.TrimSpace(body); len(b) > 0 && !bytes.EqualFold(b, []byte("OK")) {
		return occi.Errorf(occi.InvalidArgument, "a text/occi request carries its rendering in header fields; its body must be empty or OK, not %s", short(string(b)))
	}
	fields, err := headerFields(h)
	if err != nil {
		return err
	}
	return decodeText(fields, v)
}

// Encode implements Codec.
func (c TextOCCI) Encode(h http.Header, w io.Writer, v any) error {
	if p, ok := v.(*Problem); ok {
		return encodeProblem(h, w, p)
	}
	fields, err := textFields(v, c.OCCI11)
	if err != nil {
		return err
	}
	for _, f := range fields {
		if n := len(f.name) + len(": ") + len(f.value); n > MaxHeaderLine {
			return occi.Errorf(occi.NotAcceptable, "the %s header field %s would be a line of %d bytes, over the %d text/occi writes; ask for %s, which has no such limit", f.name, short(f.value), n, MaxHeaderLine, TextPlainMediaType)
		}
	}
	// Set only once the whole rendering is known to fit: a refused one
	// leaves no field behind in the error's answer.
	for _, f := range fields {
		// Spelt as the spec spells them (X-OCCI-Attribute, not Go's
		// canonical X-Occi-Attribute): some clients match exactly.
		h[f.name] = append(h[f.name], f.value)
	}
	h.Set("Content-Type", TextOCCIMediaType)
	_, err = io.WriteString(w, "OK\n")
	return err
}

// HasContent implements HeaderContent.
func (TextOCCI) HasContent(h http.Header) bool {
	for k, vs := range h {
		if canonicalField(k) == "" {
			continue
		}
		for _, v := range vs {
			if strings.TrimSpace(v) != "" {
				return true
			}
		}
	}
	return false
}

// errListingsOnly is what text/uri-list answers for anything but a listing.
func errListingsOnly() error {
	return occi.Errorf(occi.InvalidArgument, "text/uri-list renders listings only (collections and locations); use text/plain, text/occi or %s for this request", JSONMediaType)
}

// Decode implements Codec.
func (URIList) Decode(_ http.Header, body []byte, v any) error {
	m, ok := v.(*Locations)
	if !ok {
		return errListingsOnly()
	}
	if err := checkUTF8(body); err != nil {
		return err
	}
	locs := Locations{}
	for i, line := range strings.Split(string(body), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' { // RFC 2483: '#' starts a comment
			continue
		}
		loc, err := locationOf(textField{name: fieldLocation, value: line, origin: "line " + strconv.Itoa(i+1)})
		if err != nil {
			return err
		}
		locs = append(locs, loc)
	}
	*m = locs
	return nil
}

// Encode implements Codec.
func (URIList) Encode(h http.Header, w io.Writer, v any) error {
	var fields []textField
	switch m := v.(type) {
	case *Problem:
		return encodeProblem(h, w, m)
	case Locations, *Collection:
		var err error
		if fields, err = renderText(m, false); err != nil {
			return err
		}
	default:
		return errListingsOnly()
	}
	var b bytes.Buffer
	for _, f := range fields {
		b.WriteString(f.value + "\r\n") // RFC 2483 lines end with CRLF
	}
	h.Set("Content-Type", URIListMediaType)
	_, err := w.Write(b.Bytes())
	return err
}

// encodeProblem renders an error for the text renderings as one line of
// text/plain, its code then its message: "NotFound: nothing is at /x".
// The status is the response's, the request id in X-Request-Id.
func encodeProblem(h http.Header, w io.Writer, p *Problem) error {
	msg := strings.NewReplacer("\r\n", " ", "\n", " ", "\r", " ").Replace(p.Message)
	h.Set("Content-Type", TextPlainMediaType)
	_, err := io.WriteString(w, p.Code+": "+msg+"\n")
	return err
}

// bodyFields reads the fields of a text/plain body.
func bodyFields(body []byte) ([]textField, error) {
	if err := checkUTF8(body); err != nil {
		return nil, err
	}
	var out []textField
	for _, l := range bodyLines(string(body)) {
		origin := "line " + strconv.Itoa(l.n)
		name, value, ok := strings.Cut(l.text, ":")
		if !ok {
			return nil, occi.Errorf(occi.InvalidArgument, `%s: %s is not a "Name: value" field`, origin, short(l.text))
		}
		canon := canonicalField(strings.TrimSpace(name))
		if canon == "" {
			return nil, occi.Errorf(occi.InvalidArgument, "%s: %s is not a field of the text rendering (Category, Link, X-OCCI-Attribute or X-OCCI-Location)", origin, short(strings.TrimSpace(name)))
		}
		out = appendItems(out, canon, value, origin)
	}
	return out, nil
}

type bodyLine struct {
	n    int // the line number in the body, from 1
	text string
}

// bodyLines splits a text/plain body into its fields' lines: a line that
// starts with white space continues the one before (RFC 9112's obsolete
// line folding), and a literal "\n" outside quoted strings separates two
// fields, as rOCCI-core's own text samples write them.
func bodyLines(body string) []bodyLine {
	var out []bodyLine
	var folded []string // the continuation lines of the last line
	fold := func() {
		if len(folded) > 0 {
			last := &out[len(out)-1]
			last.text += " " + strings.Join(folded, " ")
			folded = folded[:0]
		}
	}
	prevBlank := true
	for i, phys := range strings.Split(body, "\n") {
		phys = strings.TrimSuffix(phys, "\r")
		blank := strings.TrimSpace(phys) == ""
		if !blank && !prevBlank && (phys[0] == ' ' || phys[0] == '\t') && len(out) > 0 {
			folded = append(folded, strings.TrimSpace(phys))
			continue
		}
		fold()
		prevBlank = blank
		for _, part := range splitLiteralNewlines(phys) {
			if t := strings.TrimSpace(part); t != "" {
				out = append(out, bodyLine{n: i + 1, text: t})
			}
		}
	}
	fold()
	return out
}

// splitLiteralNewlines splits s at the two characters `\n` outside quoted
// strings.
func splitLiteralNewlines(s string) []string {
	if !strings.Contains(s, `\n`) {
		return []string{s}
	}
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch {
		case quoted && s[i] == '\\':
			i++
		case s[i] == '"':
			quoted = !quoted
		case !quoted && s[i] == '\\' && i+1 < len(s) && s[i+1] == 'n':
			out = append(out, s[start:i])
			start = i + 2
			i++
		}
	}
	return append(out, s[start:])
}

var (
	_ Codec         = TextPlain{}
	_ Codec         = TextOCCI{}
	_ Codec         = URIList{}
	_ HeaderContent = TextOCCI{}
)
