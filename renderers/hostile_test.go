package renderers_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"net/textproto"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// The property test of the renderings: for hostile strings in every field
// of a resource with inline links, a link, the query interface (a kind, a
// mixin, an action) and an action invocation, what a codec renders reads
// back as the same model, in text/plain, text/occi and JSON. Where a value
// cannot be carried (a location with '>' in it, a term with a space), the
// text encoders refuse it with NotAcceptable and write nothing, and the
// JSON decoder refuses the location as a request would.

// reviewInjection is the review's reproducer: a link target that, written
// raw inside <…>, closes the Link and adds a line.
const reviewInjection = "http://x/>; rel=\"r\"\nX-OCCI-Attribute: occi.compute.state=\"error\"\nLink: <http://y"

// hostileStrings returns fixed hostile values, some that are valid
// locations, terms and names (so that raw fields are tried both ways), and
// values built at random, with a fixed seed, from the same pieces.
func hostileStrings() []string {
	pieces := []string{
		`"`, `\`, `\\`, `\"`, "\r", "\n", "\r\n", `\n`, `\u00`, `\u0041`, `\x`, `,`, `;`, `<`, `>`, `=`, ` `, "\t",
		"\x00", "\x01", "\x1f", "\x7f", "é", "日本", "🙂", "\u2028", "\u0085", "\ufeff", "{", "}", "[1]", "#", "?", "%", "%zz",
		"/", "//", "..", "http://", "a", "Z9", "X-OCCI-Attribute: ", "Link: <", "Category: ", "OK",
	}
	out := []string{
		``, ` `, `"`, `\`, `\\`, `\"`, "\r", "\n", "\r\n", `\n`, `\u00`, `\u0041`, `\q`, `,`, `;`, `<`, `>`, `=`, `<>`,
		`a, b; c=d`, `x">; rel="r"`, reviewInjection, "http://", "line one\nline two\r\n", "\x00", "\x01\x1f\x7f", "\t",
		"ünïcødé", "日本語", "🙂", "\u2028\u2029\u0085", "\ufeff", `{"a":[1,"b"]}`, "[1,2]", "true", "12", "-1e3",
		"OK", `Category: x; scheme="http://e.com/#"; class="kind"`, "a\\", `"quoted"`, `trailing\`,
		// Valid as a location, a term or an attribute name as well.
		"/compute/a", "/compute/a;b=c,d", "/tags/x/", "http://peer:8090/network/x", "https://[::1]/a", "a.b-c_d", "x",
		// Longer than a text/occi header line.
		strings.Repeat("long, \"line\"\n", 800),
	}
	rng := rand.New(rand.NewPCG(10, 2026))
	for range 40 {
		var b strings.Builder
		for range 1 + rng.IntN(8) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		out = append(out, b.String())
	}
	return out
}

// tokenRE is what the text renderings write raw as a term or an attribute
// name.
var tokenRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)

func validLocation(s string) bool { return occi.CheckURI(s) == nil }
func validToken(s string) bool    { return tokenRE.MatchString(s) }
func optLocation(s string) bool   { return s == "" || validLocation(s) }
func nonEmpty(s string) bool      { return s != "" }
func optPath(s string) bool       { return s == "" || validPath(s) }
func validPath(s string) bool     { return validLocation(s) && strings.HasPrefix(s, "/") }

// hostileModel is what the property test renders: one message of each
// kind the codecs exchange.
type hostileModel struct {
	res  *occi.Resource
	link *occi.Link
	cats *occi.Categories
	inv  *occi.ActionInvocation
	locs renderers.Locations
}

func newHostileModel() *hostileModel {
	return &hostileModel{
		res:  computeWeb1(),
		link: nicLink(),
		cats: &occi.Categories{Kinds: []*occi.Kind{userKind()}, Mixins: []*occi.Mixin{goldMixin()}, Actions: []*occi.Action{promoteAction()}},
		inv:  &occi.ActionInvocation{Action: "http://example.com/occi/tags/action#promote", Attributes: map[string]any{"level": 2.0, "note": "n"}},
		locs: renderers.Locations{"/compute/a", "http://peer/compute/b"},
	}
}

func userKind() *occi.Kind {
	return &occi.Kind{
		Category:   occi.Category{Scheme: "http://example.com/occi#", Term: "vm", Title: "VM"},
		Parent:     occi.ComputeKindID,
		Location:   "/vm/",
		Attributes: occi.Attributes{"com.example.flavour": {Type: occi.TypeString, Mutable: true, Required: true}},
		Actions:    []string{"http://example.com/occi/tags/action#promote"},
	}
}

// hostileField is one field the property test fills with a hostile value.
// text and json say which values the renderings carry (nil: all); values
// they do not are refused: by the text encoders, by the JSON decoder.
type hostileField struct {
	name string
	of   int // the message it belongs to, an index of messages()
	set  func(m *hostileModel, s string)
	text func(string) bool
	json func(string) bool
}

func hostileFields() []hostileField {
	nic := func(m *hostileModel) *occi.Link { return m.res.Links[0] }
	const scheme = "http://example.com/occi/tags#"
	return []hostileField{
		// The resource, its attributes and its inline links.
		{name: "resource title", of: 0, set: func(m *hostileModel, s string) { m.res.Title, m.res.Attributes[occi.AttrTitle] = s, s }},
		{name: "resource summary", of: 0, set: func(m *hostileModel, s string) { m.res.Summary, m.res.Attributes[occi.AttrSummary] = s, s }},
		{name: "resource id", of: 0, set: func(m *hostileModel, s string) { m.res.ID, m.res.Attributes[occi.AttrID] = s, s }},
		{name: "string attribute", of: 0, set: func(m *hostileModel, s string) { m.res.Attributes["occi.compute.hostname"] = s }},
		{name: "array attribute item", of: 0, set: func(m *hostileModel, s string) { m.res.Attributes["com.example.tags"] = []any{s, 1.0} }},
		{name: "object attribute member", of: 0, set: func(m *hostileModel, s string) {
			m.res.Attributes["com.example.labels"] = map[string]any{s: s, "n": 1.0}
		}},
		{name: "attribute name", of: 0, set: func(m *hostileModel, s string) { m.res.Attributes[s] = "v" }, text: validToken},
		{name: "resource location", of: 0, set: func(m *hostileModel, s string) { m.res.Location = s }, text: validPath},
		{name: "kind", of: 0, set: func(m *hostileModel, s string) { m.res.Kind = scheme + s }, text: validToken},
		{name: "mixin", of: 0, set: func(m *hostileModel, s string) { m.res.Mixins[2] = scheme + s }, text: validToken},
		{name: "action", of: 0, set: func(m *hostileModel, s string) { m.res.Actions[4] = scheme + s }, text: validToken},
		{name: "inline link title", of: 0, set: func(m *hostileModel, s string) { nic(m).Title, nic(m).Attributes[occi.AttrTitle] = s, s }},
		{name: "inline link id", of: 0, set: func(m *hostileModel, s string) { nic(m).ID, nic(m).Attributes[occi.AttrID] = s, s }},
		{name: "inline link attribute", of: 0, set: func(m *hostileModel, s string) { nic(m).Attributes["occi.networkinterface.interface"] = s }},
		{name: "inline link attribute name", of: 0, set: func(m *hostileModel, s string) { nic(m).Attributes[s] = "v" }, text: validToken},
		{name: "inline link target", of: 0, set: func(m *hostileModel, s string) {
			nic(m).Target.Location, nic(m).Attributes[occi.AttrTarget] = s, s
		}, text: validLocation, json: validLocation},
		{name: "inline link target kind", of: 0, set: func(m *hostileModel, s string) {
			nic(m).Target.Kind, nic(m).Attributes[occi.AttrTargetKind] = scheme+s, scheme+s
		}, text: validToken},
		{name: "inline link source", of: 0, set: func(m *hostileModel, s string) {
			nic(m).Source.Location, nic(m).Attributes[occi.AttrSource] = s, s
		}, text: optLocation, json: validLocation},
		{name: "inline link source kind", of: 0, set: func(m *hostileModel, s string) {
			nic(m).Source.Kind, nic(m).Attributes[occi.AttrSourceKind] = s, s
		}},
		{name: "inline link self", of: 0, set: func(m *hostileModel, s string) { nic(m).Location = s }, text: optLocation},
		{name: "inline link mixin", of: 0, set: func(m *hostileModel, s string) { nic(m).Mixins[0] = scheme + s }, text: validToken},

		// A link.
		{name: "link title", of: 1, set: func(m *hostileModel, s string) { m.link.Title, m.link.Attributes[occi.AttrTitle] = s, s }},
		{name: "link attribute", of: 1, set: func(m *hostileModel, s string) { m.link.Attributes["occi.networkinterface.mac"] = s }},
		{name: "link attribute name", of: 1, set: func(m *hostileModel, s string) { m.link.Attributes[s] = "v" }, text: validToken},
		{name: "link source", of: 1, set: func(m *hostileModel, s string) {
			m.link.Source.Location, m.link.Attributes[occi.AttrSource] = s, s
		}, text: optLocation, json: validLocation},
		{name: "link target", of: 1, set: func(m *hostileModel, s string) {
			m.link.Target.Location, m.link.Attributes[occi.AttrTarget] = s, s
		}, text: optLocation, json: validLocation},
		{name: "link target kind", of: 1, set: func(m *hostileModel, s string) {
			m.link.Target.Kind, m.link.Attributes[occi.AttrTargetKind] = s, s
		}},

		// The query interface: a kind, a mixin, an action.
		{name: "kind title", of: 2, set: func(m *hostileModel, s string) { m.cats.Kinds[0].Title = s }},
		{name: "kind term", of: 2, set: func(m *hostileModel, s string) { m.cats.Kinds[0].Term = s }, text: validToken, json: nonEmpty},
		{name: "kind location", of: 2, set: func(m *hostileModel, s string) { m.cats.Kinds[0].Location = s }, text: optPath},
		{name: "kind attribute name", of: 2, set: func(m *hostileModel, s string) {
			m.cats.Kinds[0].Attributes[s] = &occi.AttributeDef{Type: occi.TypeString}
		}, text: validToken},
		{name: "kind parent", of: 2, set: func(m *hostileModel, s string) { m.cats.Kinds[0].Parent = scheme + s }, text: validToken},
		{name: "mixin title", of: 2, set: func(m *hostileModel, s string) { m.cats.Mixins[0].Title = s }},
		{name: "mixin term", of: 2, set: func(m *hostileModel, s string) { m.cats.Mixins[0].Term = s }, text: validToken, json: nonEmpty},
		{name: "mixin location", of: 2, set: func(m *hostileModel, s string) { m.cats.Mixins[0].Location = s }, text: optPath},
		{name: "mixin attribute name", of: 2, set: func(m *hostileModel, s string) {
			m.cats.Mixins[0].Attributes[s] = &occi.AttributeDef{Type: occi.TypeString, Required: true}
		}, text: validToken},
		{name: "mixin depends", of: 2, set: func(m *hostileModel, s string) { m.cats.Mixins[0].Depends = []string{scheme + s} }, text: validToken},
		{name: "mixin action", of: 2, set: func(m *hostileModel, s string) { m.cats.Mixins[0].Actions = []string{scheme + s} }, text: validToken},
		{name: "action title", of: 2, set: func(m *hostileModel, s string) { m.cats.Actions[0].Title = s }},
		{name: "action attribute name", of: 2, set: func(m *hostileModel, s string) {
			m.cats.Actions[0].Attributes[s] = &occi.AttributeDef{Type: occi.TypeString}
		}, text: validToken},

		// An action invocation.
		{name: "invocation parameter", of: 3, set: func(m *hostileModel, s string) { m.inv.Attributes["note"] = s }},
		{name: "invocation parameter name", of: 3, set: func(m *hostileModel, s string) { m.inv.Attributes[s] = "v" }, text: validToken},
		{name: "invocation action", of: 3, set: func(m *hostileModel, s string) { m.inv.Action = scheme + s }, text: validToken},

		// A list of locations: X-OCCI-Location items are comma-separated.
		{name: "listed location", of: 4, set: func(m *hostileModel, s string) { m.locs[1] = s }, text: func(s string) bool {
			return validLocation(s) && !strings.Contains(s, ",")
		}, json: validLocation},
	}
}

// hostileCodecs are the renderings under test.
var hostileCodecs = []renderers.Codec{renderers.TextPlain{}, renderers.TextOCCI{}, renderers.JSON{}}

func TestHostileRoundTrip(t *testing.T) {
	strs := hostileStrings()
	fields := hostileFields()
	// check renders and reads back the messages of m that touched marks.
	check := func(t *testing.T, m *hostileModel, touched, textOK, jsonOK [5]bool, what func() string) {
		t.Helper()
		for _, c := range hostileCodecs {
			ok := textOK
			if _, isJSON := c.(renderers.JSON); isJSON {
				ok = jsonOK
			}
			for i, msg := range m.messages() {
				if !touched[i] {
					continue
				}
				if err := checkHostile(c, msg, ok[i]); err != "" {
					t.Fatalf("%s, %T with %s: %s", c.MediaType(), msg, what(), err)
				}
			}
		}
	}
	all := [5]bool{true, true, true, true, true}
	// Each field alone, with each value.
	for _, f := range fields {
		for _, s := range strs {
			m := newHostileModel()
			f.set(m, s)
			var touched [5]bool
			touched[f.of] = true
			textOK, jsonOK := all, all
			textOK[f.of] = f.text == nil || f.text(s)
			jsonOK[f.of] = f.json == nil || f.json(s)
			check(t, m, touched, textOK, jsonOK, func() string { return f.name + " = " + strconv.Quote(short(s)) })
		}
	}
	// Hostile values in several fields at once, drawn with a fixed seed.
	rng := rand.New(rand.NewPCG(7, 2026))
	for i := range 150 {
		m := newHostileModel()
		textOK, jsonOK := all, all
		var set []string
		for _, f := range fields {
			if rng.IntN(3) != 0 {
				continue
			}
			s := strs[rng.IntN(len(strs))]
			f.set(m, s)
			textOK[f.of] = textOK[f.of] && (f.text == nil || f.text(s))
			jsonOK[f.of] = jsonOK[f.of] && (f.json == nil || f.json(s))
			set = append(set, f.name+" = "+strconv.Quote(short(s)))
		}
		check(t, m, all, textOK, jsonOK, func() string { return "round " + strconv.Itoa(i) + ": " + strings.Join(set, ", ") })
	}
}

func (m *hostileModel) messages() []any {
	return []any{m.res, m.link, &renderers.QueryInterface{Categories: m.cats}, m.inv, m.locs}
}

// short cuts a value for a failure message.
func short(s string) string {
	if len(s) > 60 {
		return s[:60] + "…"
	}
	return s
}

// checkHostile renders msg with c and reads it back; ok says whether the
// rendering must carry it. It returns what went wrong, or "".
func checkHostile(c renderers.Codec, msg any, ok bool) string {
	_, isJSON := c.(renderers.JSON)
	h := http.Header{}
	var body bytes.Buffer
	err := c.Encode(h, &body, msg)
	if !ok && !isJSON {
		// The text encoders refuse, and leave nothing behind.
		if err == nil {
			return "encoded a value the text renderings cannot carry:\n" + body.String() + headerText(h)
		}
		if occi.CodeOf(err) != occi.NotAcceptable || !strings.Contains(err.Error(), renderers.JSONMediaType) {
			return "refused with " + occi.CodeOf(err).String() + ", not NotAcceptable naming JSON: " + err.Error()
		}
		if len(h) != 0 || body.Len() != 0 {
			return "a refused rendering left output behind"
		}
		return ""
	}
	if err != nil {
		if _, isOCCI := c.(renderers.TextOCCI); isOCCI && occi.CodeOf(err) == occi.NotAcceptable && tooLongForHeader(msg) {
			if !strings.Contains(err.Error(), renderers.TextPlainMediaType) {
				return "a line too long for text/occi is refused without naming text/plain: " + err.Error()
			}
			return ""
		}
		return "encoding: " + err.Error()
	}
	if _, isOCCI := c.(renderers.TextOCCI); isOCCI && tooLongForHeader(msg) {
		return "text/occi wrote a header line over the limit"
	}
	// What a client reads: text/plain as lines, text/occi through the
	// wire format of header fields.
	var readH http.Header
	switch c.(type) {
	case renderers.TextPlain:
		for _, line := range strings.Split(strings.TrimSuffix(body.String(), "\n"), "\n") {
			if !fieldLine(line) || strings.ContainsRune(line, '\r') {
				return "text/plain wrote a line that is not one field: " + short(line)
			}
		}
	case renderers.TextOCCI:
		var wire strings.Builder
		for k, vs := range h {
			for _, v := range vs {
				if strings.ContainsAny(v, "\r\n") {
					return "text/occi wrote a line break in " + k + ": " + short(v)
				}
				if len(k)+2+len(v) > renderers.MaxHeaderLine {
					return "text/occi wrote a header line over the limit"
				}
				wire.WriteString(k + ": " + v + "\r\n")
			}
		}
		wire.WriteString("\r\n")
		mh, err := textproto.NewReader(bufio.NewReader(strings.NewReader(wire.String()))).ReadMIMEHeader()
		if err != nil {
			return "the header fields do not parse: " + err.Error()
		}
		readH = http.Header(mh)
	}
	got, want := readBack(c, readH, body.Bytes(), msg)
	if e, isErr := got.(error); isErr {
		if !ok && isJSON && occi.CodeOf(e) == occi.InvalidArgument {
			return "" // a location JSON carries, and a request may not hold
		}
		return "decoding what was encoded: " + e.Error() + "\n" + body.String() + headerText(h)
	}
	if !ok {
		return "the JSON decoder took a location it must refuse"
	}
	if !reflect.DeepEqual(got, want) {
		return "decode(encode(x)) != x\n got  " + jsonOf(got) + "\n want " + jsonOf(want)
	}
	return ""
}

// readBack decodes what c rendered of msg, and returns it with what it
// must equal: the message, less what the rendering does not carry.
func readBack(c renderers.Codec, h http.Header, body []byte, msg any) (got, want any) {
	_, isJSON := c.(renderers.JSON)
	var err error
	switch x := msg.(type) {
	case *occi.Resource:
		var r occi.Resource
		err, got = c.Decode(h, body, &r), &r
		renderers.TypeAttributes(c, &r, model())
		w := deepCopy(x)
		if isJSON {
			// JSON carries no locations but the links' ends.
			w.Location = ""
			for _, l := range w.Links {
				l.Location = ""
			}
		}
		want = w
	case *occi.Link:
		var l occi.Link
		err, got = c.Decode(h, body, &l), &l
		renderers.TypeAttributes(c, &l, model())
		w := *x
		w.Location = "" // in no rendering: a link without actions
		want = &w
	case *renderers.QueryInterface:
		var req renderers.CategoryRequest
		err = c.Decode(h, body, &req)
		got = req.Categories
		if isJSON {
			want = *x.Categories
		} else {
			want = projectCategories(x.Categories)
		}
	case *occi.ActionInvocation:
		var inv occi.ActionInvocation
		err, got = c.Decode(h, body, &inv), &inv
		renderers.TypeAttributes(c, &inv, model())
		want = x
	case renderers.Locations:
		var locs renderers.Locations
		err = c.Decode(h, body, &locs)
		got, want = locs, x
	}
	if err != nil {
		return err, nil
	}
	return got, want
}

// tooLongForHeader reports whether an item of msg's text rendering is too
// long for one text/occi header line: text/plain writes the same items,
// one per line.
func tooLongForHeader(msg any) bool {
	var b bytes.Buffer
	if err := (renderers.TextPlain{}).Encode(http.Header{}, &b, msg); err != nil {
		return false
	}
	for _, line := range strings.Split(b.String(), "\n") {
		if len(line) > renderers.MaxHeaderLine {
			return true
		}
	}
	return false
}

var fieldLineRE = regexp.MustCompile(`^(Category|Link|X-OCCI-Attribute|X-OCCI-Location): `)

func fieldLine(line string) bool { return fieldLineRE.MatchString(line) }

func headerText(h http.Header) string {
	var b strings.Builder
	_ = h.Write(&b)
	return b.String()
}

func jsonOf(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}

// deepCopy copies a resource and its links, so that clearing locations
// in what is expected leaves the message alone.
func deepCopy(r *occi.Resource) *occi.Resource {
	c := *r
	c.Links = make([]*occi.Link, len(r.Links))
	for i, l := range r.Links {
		lc := *l
		c.Links[i] = &lc
	}
	return &c
}
