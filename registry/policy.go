package registry

import (
	"regexp"
	"strings"

	"github.com/ocni/ocni/occi"
)

// MaxKindDepth is the most ancestors a kind may have. The engine walks a
// kind's ancestors to find its attributes, actions and provider, and stops
// there: a deeper kind could be registered but never instantiated, so it is
// refused when registered.
const MaxKindDepth = 64

// checkPolicy holds a change to what its origin may do. A client may not
// register in the OGF's scheme space however spelt, nor define attributes
// that look like the OGF's, nor take a location under TemplatesLocation or
// a scheme a provider's templates use, nor remove or redefine a provider's
// template. A provider is trusted with those, and the data file's
// categories were accepted when they were stored. The depth of kinds holds
// for every new definition.
func checkPolicy(cur, next *Snapshot, ch *Change, changed map[string]bool) error {
	if ch.Origin != fromStore {
		if err := checkDepth(next, changed); err != nil {
			return err
		}
	}
	if ch.Origin != FromClient {
		return nil
	}
	for _, id := range ch.Remove {
		if p, ok := cur.provided[id]; ok {
			return occi.Errorf(occi.Forbidden, "cannot remove %s: it is a template of provider %s, which only the provider changes", id, p)
		}
	}
	for _, id := range ch.Replace.IDs() {
		if p, ok := cur.provided[id]; ok {
			return occi.Errorf(occi.Forbidden, "cannot redefine %s: it is a template of provider %s, which only the provider changes", id, p)
		}
	}
	for _, cs := range []*occi.Categories{&ch.Add, &ch.Replace} {
		for _, k := range cs.Kinds {
			if err := clientCategory("kind", &k.Category, k.Location, k.Attributes, next); err != nil {
				return err
			}
		}
		for _, m := range cs.Mixins {
			if err := clientCategory("mixin", &m.Category, m.Location, m.Attributes, next); err != nil {
				return err
			}
		}
		for _, a := range cs.Actions {
			// Action parameters are plain names: only the scheme is
			// reserved.
			if err := clientCategory("action", &a.Category, "", nil, next); err != nil {
				return err
			}
		}
	}
	return nil
}

func clientCategory(class string, c *occi.Category, location string, attrs occi.Attributes, next *Snapshot) error {
	id := c.ID()
	switch p, taken := next.schemes[c.Scheme]; {
	case occi.ReservedScheme(c.Scheme):
		return occi.Errorf(occi.Forbidden, "%s %s: the scheme %s is reserved for OGF categories, in any spelling of %s; use a scheme of your own", class, id, c.Scheme, occi.OGFScheme)
	case taken:
		return occi.Errorf(occi.Forbidden, "%s %s: the scheme %s is that of provider %s's templates; use a scheme of your own", class, id, c.Scheme, p)
	case location != "" && strings.HasPrefix(location, TemplatesLocation):
		return occi.Errorf(occi.Forbidden, "%s %s: the location %s is under %s, which is reserved for the providers' templates", class, id, location, TemplatesLocation)
	}
	for _, name := range attrs.Names() {
		if occi.ReservedAttributeName(name) {
			return occi.Errorf(occi.InvalidArgument, "%s %s: attribute %q: the \"occi.\" prefix, in any case, is reserved for OGF categories; use a reverse-domain prefix such as com.example.", class, id, name)
		}
		if !renderableName.MatchString(name) {
			return occi.Errorf(occi.InvalidArgument, "%s %s: attribute %q: each dot-separated part must start with a letter or a digit, or the text renderings could not carry it", class, id, name)
		}
	}
	return nil
}

// renderableName is an attribute name the text renderings' grammar can
// carry (GFD.229's attribute-name): parts that start with a letter or a
// digit. The model's own rule lets a part start with '_' or '-'; new client
// categories are held to this one, while stored ones load as they are.
var renderableName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_\-]*(\.[A-Za-z0-9][A-Za-z0-9_\-]*)*$`)

// checkDepth refuses a kind with more than MaxKindDepth ancestors when it,
// or one of its ancestors, is changed: a redefined parent can push kinds
// that did not change too deep.
func checkDepth(next *Snapshot, changed map[string]bool) error {
	for _, id := range sortedIDs(next.kinds) {
		n, touched := 0, changed[id]
		for k := next.kinds[id]; k != nil && k.Parent != "" && n <= MaxKindDepth; k = next.kinds[k.Parent] {
			n++
			touched = touched || changed[k.Parent]
		}
		if n > MaxKindDepth && touched {
			return occi.Errorf(occi.InvalidArgument, "kind %s: it has more than %d ancestors; an entity of it could not be served", id, MaxKindDepth)
		}
	}
	return nil
}

// markProvided records a provider's templates: those the change adds or
// replaces, and those it claims as they are.
func markProvided(next *Snapshot, ch *Change) error {
	if next.provided == nil {
		next.provided, next.schemes = map[string]string{}, map[string]string{}
	}
	ids := append(ch.Add.IDs(), ch.Replace.IDs()...)
	for _, id := range ch.Claim {
		if _, ok := next.ClassOf(id); !ok {
			return occi.Errorf(occi.NotFound, "template %s of provider %s: no such category to claim", id, ch.Provider)
		}
		ids = append(ids, id)
	}
	for _, id := range ids {
		if p, ok := next.provided[id]; ok && p != ch.Provider {
			return occi.Errorf(occi.Conflict, "template %s: provider %s declares it, but it is provider %s's", id, ch.Provider, p)
		}
		next.provided[id] = ch.Provider
		next.schemes[schemeOf(id)] = ch.Provider
	}
	return nil
}
