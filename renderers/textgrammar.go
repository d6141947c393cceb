package renderers

import (
	"math"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"

	"github.com/ocni/ocni/occi"
)

// The grammar of the text renderings (OCCI Text Rendering, GFD.229 §4),
// shared by text/plain, where the fields are lines of the body, and
// text/occi, where they are HTTP header fields. Both reach this file as a
// list of textField values, one per comma-separated item.

// The fields of the text renderings.
const (
	fieldCategory  = "Category"
	fieldLink      = "Link"
	fieldAttribute = "X-OCCI-Attribute"
	fieldLocation  = "X-OCCI-Location"
)

// fieldNames lists the fields in the order renderings write them.
var fieldNames = []string{fieldCategory, fieldLink, fieldAttribute, fieldLocation}

// fieldLinkAlias is rOCCI-core's spelling of Link in requests.
const fieldLinkAlias = "X-OCCI-Link"

// canonicalField returns the field's name as the spec spells it, matching
// case-insensitively (and taking X-OCCI-Link for Link), or "" for a name
// that is not a field.
func canonicalField(name string) string {
	for _, f := range fieldNames {
		if strings.EqualFold(name, f) {
			return f
		}
	}
	if strings.EqualFold(name, fieldLinkAlias) {
		return fieldLink
	}
	return ""
}

// CheckOCCIHeaders refuses a request header named X-OCCI-… that is not a
// field of the text renderings (X-OCCI-Attribute, X-OCCI-Location, or
// X-OCCI-Link for Link): a misspelt field silently ignored is a request
// that does something else than its client meant.
func CheckOCCIHeaders(h http.Header) error {
	for k := range h {
		if len(k) > 7 && strings.EqualFold(k[:7], "X-OCCI-") && canonicalField(k) == "" {
			return occi.Errorf(occi.InvalidArgument, "header %s is not a field of the OCCI text renderings (X-OCCI-Attribute, X-OCCI-Location, or X-OCCI-Link for Link)", k)
		}
	}
	return nil
}

// textField is one item of a field: a single Category, Link, attribute or
// location, with where it was read ("line 3", "Category header") for error
// messages.
type textField struct {
	name, value, origin string
}

// appendItems splits a field value into its comma-separated items (commas
// inside quoted strings and <URI>s do not separate) and appends the
// non-empty ones.
func appendItems(out []textField, name, value, origin string) []textField {
	for _, item := range splitQuoted(value, ',') {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, textField{name: name, value: item, origin: origin})
		}
	}
	return out
}

// fail returns an InvalidArgument error prefixed by where f was read.
func (f textField) fail(format string, args ...any) error {
	return occi.Prefix(f.origin, occi.Errorf(occi.InvalidArgument, format, args...))
}

// short quotes s for an error message, cut to a readable length.
func short(s string) string { return occi.ShortQuote(s) }

// param is one name=value parameter of an item.
type param struct {
	name   string // as written
	value  string // unquoted and unescaped
	raw    string // as written, for messages
	quoted bool
}

// cutHead splits an item into its head (a term, a <URI>) and the
// parameters after the first ';'.
func cutHead(item string) (head, rest string) {
	parts := splitQuoted(item, ';')
	head = strings.TrimSpace(parts[0])
	if len(parts) > 1 {
		rest = item[len(parts[0])+1:]
	}
	return head, rest
}

// structural are the parameter names of the text grammar itself.
var structural = map[string]bool{
	"scheme": true, "class": true, "title": true, "rel": true, "location": true,
	"attributes": true, "actions": true, "self": true, "category": true,
}

// parseParams reads the name=value parameters of s. They are separated by
// ';' or, as rOCCI writes Link attributes, by white space; an empty
// parameter (a trailing ';') is skipped. A name may be given only once.
func parseParams(s string) ([]param, error) {
	var out []param
	seen := map[string]bool{}
	for _, seg := range splitQuoted(s, ';') {
		rest := strings.TrimLeft(seg, " \t")
		for rest != "" {
			p, after, err := parseParam(rest)
			if err != nil {
				return nil, err
			}
			// The grammar's own parameter names are read in any case;
			// anything else is an attribute name, and those are exact.
			key := p.name
			if structural[strings.ToLower(key)] {
				key = strings.ToLower(key)
			}
			if seen[key] {
				return nil, occi.Errorf(occi.InvalidArgument, "parameter %q is given twice", p.name)
			}
			seen[key] = true
			out = append(out, p)
			rest = strings.TrimLeft(after, " \t")
		}
	}
	return out, nil
}

// parseParam reads one name=value from the start of s and returns what
// follows it.
func parseParam(s string) (param, string, error) {
	i := 0
	for i < len(s) && s[i] != '=' && s[i] != ' ' && s[i] != '\t' {
		i++
	}
	name := s[:i]
	j := skipBlank(s, i)
	if j == len(s) || s[j] != '=' {
		return param{}, "", occi.Errorf(occi.InvalidArgument, "parameter %q has no value", name)
	}
	if name == "" {
		return param{}, "", occi.Errorf(occi.InvalidArgument, "a parameter has no name before '=' in %s", short(s))
	}
	j = skipBlank(s, j+1)
	if j < len(s) && s[j] == '"' {
		end := closingQuote(s, j)
		if end < 0 {
			return param{}, "", occi.Errorf(occi.InvalidArgument, "parameter %q: the quoted value %s has no closing quote", name, short(s[j:]))
		}
		after := s[end+1:]
		if after != "" && after[0] != ' ' && after[0] != '\t' {
			return param{}, "", occi.Errorf(occi.InvalidArgument, "parameter %q: unexpected %s after the quoted value", name, short(after))
		}
		value, err := unescape(s[j+1 : end])
		if err != nil {
			what := "attribute " + name
			if structural[strings.ToLower(name)] {
				what = "parameter " + strconv.Quote(name)
			}
			return param{}, "", occi.Prefix(what, err)
		}
		return param{name: name, value: value, raw: s[j : end+1], quoted: true}, after, nil
	}
	k := j
	for k < len(s) && s[k] != ' ' && s[k] != '\t' {
		k++
	}
	return param{name: name, value: s[j:k], raw: s[j:k]}, s[k:], nil
}

func skipBlank(s string, i int) int {
	for i < len(s) && (s[i] == ' ' || s[i] == '\t') {
		i++
	}
	return i
}

// closingQuote returns the index of the quote that closes the quoted
// string opening at s[open], or -1.
func closingQuote(s string, open int) int {
	for i := open + 1; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '"':
			return i
		}
	}
	return -1
}

// categoryHead is a Category item read to its parameters.
type categoryHead struct {
	item   string
	term   string
	params []param
}

func readCategory(item string) (*categoryHead, error) {
	term, rest := cutHead(item)
	params, err := parseParams(rest)
	if err != nil {
		return nil, occi.Prefix("Category "+short(item), err)
	}
	return &categoryHead{item: item, term: term, params: params}, nil
}

func (c *categoryHead) get(name string) (param, bool) {
	for _, p := range c.params {
		if strings.EqualFold(p.name, name) {
			return p, true
		}
	}
	return param{}, false
}

// id returns the category identifier, scheme+term, checked.
func (c *categoryHead) id() (string, error) {
	scheme, _ := c.get("scheme")
	if scheme.value == "" {
		return "", occi.Errorf(occi.InvalidArgument, "Category %s has no scheme", short(c.item))
	}
	if i := strings.IndexByte(scheme.value, '#'); i >= 0 && i != len(scheme.value)-1 {
		return "", occi.Errorf(occi.InvalidArgument, "Category %s: scheme %s has a '#' before its end", short(c.item), short(scheme.value))
	}
	id := scheme.value + c.term
	if err := occi.ValidID(id); err != nil {
		return "", occi.Prefix("Category "+short(c.item), err)
	}
	// A '#' inside the term would make another category of the same
	// characters: refuse rather than guess.
	if s, t := occi.SplitID(id); s != scheme.value || t != c.term {
		return "", occi.Errorf(occi.InvalidArgument, "Category %s: the term must not contain '#'", short(c.item))
	}
	return id, nil
}

// categoryIDs reads the identifiers of Category items, ignoring their other
// parameters: the form of filters and of category references.
func categoryIDs(fields []textField) ([]string, error) {
	var ids []string
	for _, f := range fields {
		c, err := readCategory(f.value)
		if err != nil {
			return nil, occi.Prefix(f.origin, err)
		}
		id, err := c.id()
		if err != nil {
			return nil, occi.Prefix(f.origin, err)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

// The classes of a Category.
const (
	classKind   = "kind"
	classMixin  = "mixin"
	classAction = "action"
)

// textCategory is a Category item read in full.
type textCategory struct {
	id, class, title, location string
	rel, actions               []string
	attributes                 occi.Attributes
}

// parseCategory reads a Category item in full: term, scheme, class,
// title, rel, location, attributes and actions.
func parseCategory(item string) (*textCategory, error) {
	head, err := readCategory(item)
	if err != nil {
		return nil, err
	}
	c := &textCategory{}
	if c.id, err = head.id(); err != nil {
		return nil, err
	}
	where := "Category " + short(item)
	for _, p := range head.params {
		switch strings.ToLower(p.name) {
		case "scheme":
		case "class":
			c.class = strings.ToLower(p.value)
			if c.class != classKind && c.class != classMixin && c.class != classAction {
				return nil, occi.Errorf(occi.InvalidArgument, "%s: class %s is not kind, mixin or action", where, short(p.value))
			}
		case "title":
			c.title = p.value
		case "rel":
			if c.rel, err = idList(p.value); err != nil {
				return nil, occi.Prefix(where+": rel", err)
			}
		case "location":
			if p.value == "" {
				break // none, as when the parameter is left out
			}
			c.location = pathOf(p.value)
			// The text renderings write it back quoted, and read it as a
			// path: what would not read back is refused here already.
			if err := occi.CheckURI(c.location); err != nil {
				return nil, occi.Prefix(where+": location", err)
			}
			if !strings.HasPrefix(c.location, "/") {
				return nil, occi.Errorf(occi.InvalidArgument, "%s: location %s is not an absolute path", where, short(p.value))
			}
		case "attributes":
			if c.attributes, err = parseAttributeList(p.value); err != nil {
				return nil, occi.Prefix(where+": attributes", err)
			}
		case "actions":
			if c.actions, err = idList(p.value); err != nil {
				return nil, occi.Prefix(where+": actions", err)
			}
		default:
			return nil, occi.Errorf(occi.InvalidArgument, "%s: unknown parameter %q (a Category has scheme, class, title, rel, location, attributes and actions)", where, p.name)
		}
	}
	return c, nil
}

// idList reads a space-separated list of category identifiers.
func idList(s string) ([]string, error) {
	ids := strings.Fields(s)
	for _, id := range ids {
		if err := occi.ValidID(id); err != nil {
			return nil, err
		}
	}
	if len(ids) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "the list of category identifiers is empty")
	}
	return ids, nil
}

// pathOf keeps the path of an absolute URL: servers such as pyssf render
// category locations as URLs of their own.
func pathOf(loc string) string {
	if u, err := url.Parse(loc); err == nil && u.IsAbs() && u.Host != "" {
		return u.EscapedPath()
	}
	return loc
}

// attrNameRE is the attribute-name of the text rendering's ABNF.
var attrNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)

func checkAttrName(name string) error {
	if !attrNameRE.MatchString(name) {
		return occi.Errorf(occi.InvalidArgument, "attribute name %s is not valid: letters, digits, '-', '_' and '.', starting with a letter or digit", short(name))
	}
	return nil
}

// parseAttributeList reads attribute definitions as a Category renders
// them: "name name{immutable} name{immutable required}". The rendering
// carries no type: every definition is a string, mutable unless marked
// immutable.
func parseAttributeList(s string) (occi.Attributes, error) {
	out := occi.Attributes{}
	for i := skipBlank(s, 0); i < len(s); i = skipBlank(s, i) {
		start := i
		for i < len(s) && s[i] != ' ' && s[i] != '\t' && s[i] != '{' {
			i++
		}
		name := s[start:i]
		if err := checkAttrName(name); err != nil {
			return nil, err
		}
		def := &occi.AttributeDef{Type: occi.TypeString, Mutable: true}
		if i < len(s) && s[i] == '{' {
			end := strings.IndexByte(s[i:], '}')
			if end < 0 {
				return nil, occi.Errorf(occi.InvalidArgument, "attribute %s: '{' has no closing '}'", name)
			}
			for _, prop := range strings.Fields(s[i+1 : i+end]) {
				switch prop {
				case "immutable":
					def.Mutable = false
				case "required":
					def.Required = true
				default:
					return nil, occi.Errorf(occi.InvalidArgument, "attribute %s: property %s is not immutable or required", name, short(prop))
				}
			}
			i += end + 1
			if i < len(s) && s[i] != ' ' && s[i] != '\t' {
				return nil, occi.Errorf(occi.InvalidArgument, "attribute %s: unexpected %s after '}'", name, short(s[i:]))
			}
		}
		if _, dup := out[name]; dup {
			return nil, occi.Errorf(occi.InvalidArgument, "attribute %s is listed twice", name)
		}
		out[name] = def
	}
	if len(out) == 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "the list is empty")
	}
	return out, nil
}

// textLink is a Link item: an action link, or an inline link.
type textLink struct {
	target   string   // the <URI-reference>
	rel      []string // the target's kind, or the action's identifier
	self     string   // the link's own location
	category []string // the link's kind, then its mixins
	attrs    map[string]any
	action   string // the ?action= term, for an action link
}

// parseLink reads a Link item.
func parseLink(item string) (*textLink, error) {
	where := "Link " + short(item)
	head, rest := cutHead(item)
	if len(head) < 2 || head[0] != '<' || head[len(head)-1] != '>' {
		return nil, occi.Errorf(occi.InvalidArgument, "%s: the value must start with <URI>", where)
	}
	l := &textLink{target: strings.TrimSpace(head[1 : len(head)-1])}
	if l.target == "" {
		return nil, occi.Errorf(occi.InvalidArgument, "%s: the URI between '<' and '>' is empty", where)
	}
	// The target is a location, and an action link's is one followed by
	// ?action=TERM: the query is read apart, and only there.
	loc, query, hasQuery := strings.Cut(l.target, "?")
	if err := occi.CheckURI(loc); err != nil {
		return nil, occi.Prefix(where, err)
	}
	term, isAction := strings.CutPrefix(query, "action=")
	if hasQuery && (!isAction || term == "") {
		return nil, occi.Errorf(occi.InvalidArgument, "%s: the query %s is not ?action=TERM; only an action link's URI has a query", where, short("?"+query))
	}
	params, err := parseParams(rest)
	if err != nil {
		return nil, occi.Prefix(where, err)
	}
	var hasSelf bool
	for _, p := range params {
		switch strings.ToLower(p.name) {
		case "rel":
			if l.rel, err = idList(p.value); err != nil {
				return nil, occi.Prefix(where+": rel", err)
			}
		case "self":
			if err := occi.CheckURI(p.value); err != nil {
				return nil, occi.Prefix(where+": self", err)
			}
			l.self, hasSelf = p.value, true
		case "category":
			if l.category, err = idList(p.value); err != nil {
				return nil, occi.Prefix(where+": category", err)
			}
		default:
			if err := checkAttrName(p.name); err != nil {
				return nil, occi.Prefix(where, err)
			}
			v, err := typedValue(p, true)
			if err != nil {
				return nil, occi.Prefix(where, err)
			}
			if l.attrs == nil {
				l.attrs = map[string]any{}
			}
			l.attrs[p.name] = v
		}
	}
	if l.rel == nil {
		return nil, occi.Errorf(occi.InvalidArgument, "%s has no rel", where)
	}
	if hasQuery {
		if hasSelf || l.category != nil || l.attrs != nil {
			return nil, occi.Errorf(occi.InvalidArgument, "%s: an action link (%s) has no self, category or attributes; an inline link's target has no query", where, short("?action="+term))
		}
		if len(l.rel) != 1 {
			return nil, occi.Errorf(occi.InvalidArgument, "%s: an action link's rel names one action, not %d", where, len(l.rel))
		}
		if _, t := occi.SplitID(l.rel[0]); t != term {
			return nil, occi.Errorf(occi.InvalidArgument, "%s: %s does not name the action %s", where, short("?action="+term), l.rel[0])
		}
		l.action, l.target = term, loc
	}
	return l, nil
}

// parseAttribute reads an X-OCCI-Attribute item: one name=value.
func parseAttribute(item string) (string, any, error) {
	where := "X-OCCI-Attribute " + short(item)
	params, err := parseParams(item)
	if err != nil {
		return "", nil, occi.Prefix(where, err)
	}
	switch len(params) {
	case 0:
		return "", nil, occi.Errorf(occi.InvalidArgument, "%s holds no name=value", where)
	case 1:
	default:
		return "", nil, occi.Errorf(occi.InvalidArgument, "%s holds %d attributes; separate them with commas", where, len(params))
	}
	p := params[0]
	if err := checkAttrName(p.name); err != nil {
		return "", nil, occi.Prefix(where, err)
	}
	v, err := typedValue(p, false)
	if err != nil {
		return "", nil, occi.Prefix(where, err)
	}
	return p.name, v, nil
}

// numberRE is the text rendering's number (int or float), with JSON's sign
// and exponent allowed as well.
var numberRE = regexp.MustCompile(`^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// typedValue types an attribute value as the text rendering writes it: a
// quoted string is a string; bare, true and false are booleans and a
// number is a float64. A bare token of another form is a string where the
// grammar allows tokens (Link attributes) and an error elsewhere.
func typedValue(p param, tokens bool) (any, error) {
	if p.quoted {
		return p.value, nil
	}
	switch p.value {
	case "true":
		return true, nil
	case "false":
		return false, nil
	}
	if numberRE.MatchString(p.value) {
		f, err := strconv.ParseFloat(p.value, 64)
		if err != nil || math.IsInf(f, 0) {
			return nil, occi.Errorf(occi.InvalidArgument, "attribute %s: the number %s is out of range", p.name, short(p.value))
		}
		return f, nil
	}
	if tokens && p.value != "" {
		return p.value, nil
	}
	return nil, occi.Errorf(occi.InvalidArgument, "attribute %s: the value %s is not a quoted string, a number, true or false", p.name, short(p.raw))
}

// parseNumber reads a number written as the text rendering writes one.
func parseNumber(s string) (float64, bool) {
	if !numberRE.MatchString(s) {
		return 0, false
	}
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0)
}

// locationOf checks an X-OCCI-Location item (or a uri-list line): an
// absolute path or an http or https URL (occi.CheckURI).
func locationOf(f textField) (string, error) {
	if err := occi.CheckURI(f.value); err != nil {
		return "", occi.Prefix(f.origin, err)
	}
	return f.value, nil
}

// joinIDs writes identifiers as a space-separated list.
func joinIDs(ids ...string) string { return strings.Join(ids, " ") }
