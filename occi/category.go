package occi

import (
	"net/url"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Well-known schemes and identifiers.
const (
	OGFScheme        = "http://schemas.ogf.org/occi/"
	CoreScheme       = OGFScheme + "core#"
	InfraScheme      = OGFScheme + "infrastructure#"
	EntityKindID     = CoreScheme + "entity"
	ResourceKindID   = CoreScheme + "resource"
	LinkKindID       = CoreScheme + "link"
	reservedAttrPart = "occi."
)

// Category is the common part of Kind, Mixin and Action: its identifier is
// Scheme+Term.
type Category struct {
	Term   string `json:"term"`
	Scheme string `json:"scheme"`
	Title  string `json:"title,omitempty"`
}

// ID returns the category identifier, scheme followed by term.
func (c *Category) ID() string { return c.Scheme + c.Term }

// IsOGF reports whether the category belongs to the OGF-reserved scheme
// space; such categories are built in and cannot be changed at runtime.
func (c *Category) IsOGF() bool { return strings.HasPrefix(c.Scheme, OGFScheme) }

// ReservedScheme reports whether a scheme is in the OGF's space however it
// is spelt: the http or https scheme, the host in any case, a default port,
// and "/occi/" in any case. Clients may not register categories there, nor
// in a look-alike of it, which a client comparing schemes loosely would take
// for an OGF category.
func ReservedScheme(scheme string) bool {
	u, err := url.Parse(scheme)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") {
		return false
	}
	switch u.Port() {
	case "", "80", "443":
	default:
		return false
	}
	host := strings.TrimSuffix(strings.ToLower(u.Hostname()), ".")
	// Dot segments and doubled slashes are other spellings of the same
	// path (/./occi/, //occi/).
	p := strings.ToLower(u.Path)
	if p != "" {
		p = path.Clean(p)
	}
	return host == "schemas.ogf.org" && (p == "/occi" || strings.HasPrefix(p, "/occi/"))
}

// ReservedAttributeName reports whether a client category may not define
// an attribute of this name: "occi." in any case is the OGF's prefix, and
// only the OGF's own names may be used with it (a template sets their
// defaults), spelt exactly.
func ReservedAttributeName(name string) bool {
	if !strings.HasPrefix(strings.ToLower(name), reservedAttrPart) {
		return false
	}
	_, known := builtinAttributes()[name]
	return !known
}

// Attributes maps attribute names to their definitions.
type Attributes map[string]*AttributeDef

// Kind is the type of an entity.
type Kind struct {
	Category
	Attributes Attributes `json:"attributes,omitempty"`
	Actions    []string   `json:"actions,omitempty"`
	Parent     string     `json:"parent,omitempty"`
	Location   string     `json:"location,omitempty"`
}

// Mixin adds attributes and actions to entities, or tags them.
type Mixin struct {
	Category
	Attributes Attributes `json:"attributes,omitempty"`
	Actions    []string   `json:"actions,omitempty"`
	Depends    []string   `json:"depends,omitempty"`
	Applies    []string   `json:"applies,omitempty"`
	Location   string     `json:"location,omitempty"`
}

// Action is an operation on an entity; its attributes are its parameters.
type Action struct {
	Category
	Attributes Attributes `json:"attributes,omitempty"`
}

// Categories is a set of kinds, mixins and actions: the query interface, and
// the body of category management requests.
type Categories struct {
	Kinds   []*Kind   `json:"kinds,omitempty"`
	Mixins  []*Mixin  `json:"mixins,omitempty"`
	Actions []*Action `json:"actions,omitempty"`
}

// Len returns the number of categories in the set.
func (cs *Categories) Len() int { return len(cs.Kinds) + len(cs.Mixins) + len(cs.Actions) }

// IDs returns the identifiers of every category in the set.
func (cs *Categories) IDs() []string {
	ids := make([]string, 0, cs.Len())
	for _, k := range cs.Kinds {
		ids = append(ids, k.ID())
	}
	for _, m := range cs.Mixins {
		ids = append(ids, m.ID())
	}
	for _, a := range cs.Actions {
		ids = append(ids, a.ID())
	}
	return ids
}

// Sort orders each list by identifier, so that renderings are stable.
func (cs *Categories) Sort() {
	sort.Slice(cs.Kinds, func(i, j int) bool { return cs.Kinds[i].ID() < cs.Kinds[j].ID() })
	sort.Slice(cs.Mixins, func(i, j int) bool { return cs.Mixins[i].ID() < cs.Mixins[j].ID() })
	sort.Slice(cs.Actions, func(i, j int) bool { return cs.Actions[i].ID() < cs.Actions[j].ID() })
}

var (
	// termRE is the term grammar of the text rendering, which is the
	// strictest of the renderings: a term must survive all of them.
	termRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
	// attrNameRE: dot-separated components of letters, digits, '_' and '-'.
	attrNameRE = regexp.MustCompile(`^[A-Za-z0-9_\-]+(\.[A-Za-z0-9_\-]+)*$`)
	// locationRE: an absolute path of non-empty segments ending with '/'.
	locationRE = regexp.MustCompile(`^/([A-Za-z0-9_.~\-]+/)+$`)
)

// ValidAttributeName checks an attribute name's grammar: dot-separated
// parts of letters, digits, '_' and '-'.
func ValidAttributeName(name string) error {
	if !attrNameRE.MatchString(name) {
		return Errorf(InvalidArgument, "attribute name %q is not valid: dot-separated parts of letters, digits, '_' and '-'", name)
	}
	return nil
}

// ValidID checks that id has the form scheme#term.
func ValidID(id string) error {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return Errorf(InvalidArgument, "category identifier %q has no '#' between scheme and term", id)
	}
	c := Category{Scheme: id[:i+1], Term: id[i+1:]}
	return c.validate()
}

// SplitID splits a category identifier into scheme and term.
func SplitID(id string) (scheme, term string) {
	i := strings.LastIndexByte(id, '#')
	if i < 0 {
		return "", id
	}
	return id[:i+1], id[i+1:]
}

func (c *Category) validate() error {
	if c.Term == "" {
		return Errorf(InvalidArgument, "term is missing")
	}
	if !termRE.MatchString(c.Term) {
		return Errorf(InvalidArgument, "term %q is not valid: letters, digits, '-', '_' and '.' only, starting with a letter or digit", c.Term)
	}
	if c.Scheme == "" {
		return Errorf(InvalidArgument, "scheme is missing")
	}
	if !strings.HasSuffix(c.Scheme, "#") {
		return Errorf(InvalidArgument, "scheme %q must end with '#'", c.Scheme)
	}
	u, err := url.Parse(c.Scheme)
	if err != nil || u.Scheme == "" || strings.ContainsAny(c.Scheme, " \t\r\n\"") {
		return Errorf(InvalidArgument, "scheme %q is not an absolute URI", c.Scheme)
	}
	return nil
}

func validLocation(loc string) error {
	if loc == "" {
		return Errorf(InvalidArgument, "location is missing")
	}
	if !locationRE.MatchString(loc) {
		return Errorf(InvalidArgument, "location %q must be an absolute path like /my/things/ (letters, digits, '-', '_', '.', '~'; ending with '/')", loc)
	}
	for _, seg := range strings.Split(strings.Trim(loc, "/"), "/") {
		if seg == "." || seg == ".." {
			return Errorf(InvalidArgument, "location %q contains the reserved segment %q", loc, seg)
		}
	}
	return nil
}

func validIDList(field string, ids []string) error {
	seen := make(map[string]bool, len(ids))
	for i, id := range ids {
		if err := ValidID(id); err != nil {
			return Prefix(field+"["+strconv.Itoa(i)+"]", err)
		}
		if seen[id] {
			return Errorf(InvalidArgument, "%s lists %q twice", field, id)
		}
		seen[id] = true
	}
	return nil
}

// Validate checks the kind on its own: grammar of the identifier, location
// and attribute definitions. References to other categories are checked by
// the registry, which knows them.
func (k *Kind) Validate() error {
	if err := k.validate(); err != nil {
		return err
	}
	if k.Parent == "" && k.ID() != EntityKindID {
		return Errorf(InvalidArgument, "parent is missing: every kind descends from %s (use %s or %s)", EntityKindID, ResourceKindID, LinkKindID)
	}
	if k.Parent != "" {
		if err := ValidID(k.Parent); err != nil {
			return Prefix("parent", err)
		}
	}
	if k.ID() != EntityKindID {
		if err := validLocation(k.Location); err != nil {
			return err
		}
	}
	if err := validIDList("actions", k.Actions); err != nil {
		return err
	}
	return k.Attributes.validate(k.IsOGF())
}

// Validate checks the mixin on its own; see Kind.Validate.
func (m *Mixin) Validate() error {
	if err := m.validate(); err != nil {
		return err
	}
	if err := validLocation(m.Location); err != nil {
		return err
	}
	for _, l := range []struct {
		name string
		ids  []string
	}{{"actions", m.Actions}, {"depends", m.Depends}, {"applies", m.Applies}} {
		if err := validIDList(l.name, l.ids); err != nil {
			return err
		}
	}
	for _, d := range m.Depends {
		if d == m.ID() {
			return Errorf(InvalidArgument, "depends lists the mixin %s itself", m.ID())
		}
	}
	return m.Attributes.validate(m.IsOGF())
}

// Validate checks the action on its own. Action parameters are plain names
// (method, name), so the occi. prefix rule does not apply to them.
func (a *Action) Validate() error {
	if err := a.validate(); err != nil {
		return err
	}
	return a.Attributes.validate(true)
}

func (as Attributes) validate(ogf bool) error {
	for _, name := range as.Names() {
		def := as[name]
		if !attrNameRE.MatchString(name) {
			return Errorf(InvalidArgument, "attribute name %q is not valid: dot-separated parts of letters, digits, '_' and '-'", name)
		}
		if def == nil {
			return Errorf(InvalidArgument, "attribute %q: definition is null", name)
		}
		if !ogf && strings.HasPrefix(name, reservedAttrPart) {
			// Provider templates (a resource_tpl "xlarge", an os_tpl)
			// set defaults of OGF attributes; inventing new occi.
			// attributes is what is reserved.
			ogfDef, known := builtinAttributes()[name]
			if !known {
				return Errorf(InvalidArgument, "attribute %q: the %q prefix is reserved for OGF categories; use a reverse-domain prefix such as com.example.", name, reservedAttrPart)
			}
			if t := def.Type; t != "" && t != ogfDef.Type {
				return Errorf(InvalidArgument, "attribute %q: redefined as %s, but OGF defines it as %s", name, t, ogfDef.Type)
			}
		}
		if err := def.compile(); err != nil {
			return Prefix("attribute "+name, err)
		}
	}
	return nil
}

// Names returns the attribute names in sorted order.
func (as Attributes) Names() []string {
	return sortedKeys(as)
}
