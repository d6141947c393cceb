package engine

import (
	"regexp"
	"slices"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
)

// attributeSet returns the attribute definitions an entity of the kind with
// the mixins has: the kind's ancestors' first, then the kind's, then each
// mixin's dependencies and the mixin itself, later defaults winning.
func attributeSet(snap *registry.Snapshot, kindID string, mixins []string) occi.AttributeSet {
	var defs []occi.Attributes
	chain := append([]string{kindID}, ancestors(snap, kindID)...)
	for i := len(chain) - 1; i >= 0; i-- {
		if k, ok := snap.Kind(chain[i]); ok {
			defs = append(defs, k.Attributes)
		}
	}
	for _, id := range mixins {
		for _, dep := range dependsClosure(snap, id) {
			if m, ok := snap.Mixin(dep); ok {
				defs = append(defs, m.Attributes)
			}
		}
	}
	return occi.Merge(defs...)
}

// dependsClosure returns a mixin's dependencies, deepest first, then the
// mixin itself.
func dependsClosure(snap *registry.Snapshot, id string) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(string)
	walk = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		if m, ok := snap.Mixin(id); ok {
			for _, d := range m.Depends {
				walk(d)
			}
		}
		out = append(out, id)
	}
	walk(id)
	return out
}

// templateFamily returns os_tpl or resource_tpl when the mixin is, or
// depends on, one of them: an entity has one template of each family.
func templateFamily(snap *registry.Snapshot, id string) string {
	for _, d := range dependsClosure(snap, id) {
		if d == occi.OSTplMixinID || d == occi.ResourceTplMixinID {
			return d
		}
	}
	return ""
}

// checkMixins verifies that the mixins exist, are not repeated, apply to
// the kind (with their dependencies), and name at most one template of each
// family.
func checkMixins(snap *registry.Snapshot, kindID string, mixins []string) error {
	chain := append([]string{kindID}, ancestors(snap, kindID)...)
	families := map[string]string{}
	for i, id := range mixins {
		if _, ok := snap.Mixin(id); !ok {
			return occi.Errorf(occi.InvalidArgument, "mixin %q is not registered", id)
		}
		if slices.Contains(mixins[:i], id) {
			return occi.Errorf(occi.InvalidArgument, "mixin %s is listed twice", id)
		}
		for _, dep := range dependsClosure(snap, id) {
			m, _ := snap.Mixin(dep)
			if m == nil || len(m.Applies) == 0 {
				continue
			}
			if !slices.ContainsFunc(chain, func(k string) bool { return slices.Contains(m.Applies, k) }) {
				what := "mixin " + id
				if dep != id {
					what += " (through " + dep + ")"
				}
				return occi.Errorf(occi.Forbidden, "%s does not apply to kind %s; it applies to %s", what, kindID, strings.Join(m.Applies, ", "))
			}
		}
		if f := templateFamily(snap, id); f != "" && f != id {
			if other, dup := families[f]; dup {
				return occi.Errorf(occi.InvalidArgument, "mixins %s and %s are both %s templates; an entity has one", other, id, f)
			}
			families[f] = id
		}
	}
	return nil
}

// addMixins returns current plus added, a template replacing the one of the
// same family that current holds.
func addMixins(snap *registry.Snapshot, current, added []string) []string {
	out := slices.Clone(current)
	for _, id := range added {
		if slices.Contains(out, id) {
			continue
		}
		if f := templateFamily(snap, id); f != "" && f != id {
			out = slices.DeleteFunc(out, func(old string) bool {
				return old != id && templateFamily(snap, old) == f
			})
		}
		out = append(out, id)
	}
	return out
}

var (
	idRE      = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._~\-]{0,127}$`)
	segmentRE = regexp.MustCompile(`^[A-Za-z0-9._~\-]+$`)
)

// checkID validates an entity id given by a client.
func checkID(id string) error {
	if !idRE.MatchString(id) {
		return occi.Errorf(occi.InvalidArgument, "id %q is not valid: 1 to 128 letters, digits, '.', '_', '~' or '-', starting with a letter or digit", id)
	}
	return nil
}

// checkPath validates a custom entity path and returns the kind location
// it falls in, if any.
func checkPath(snap *registry.Snapshot, path string) error {
	if !strings.HasPrefix(path, "/") || strings.HasSuffix(path, "/") {
		return occi.Errorf(occi.InvalidArgument, "entity path %q must start with '/' and not end with '/'", path)
	}
	if len(path) > 1024 {
		return occi.Errorf(occi.InvalidArgument, "entity path is longer than 1024 bytes")
	}
	segs := strings.Split(path[1:], "/")
	for _, s := range segs {
		if s == "." || s == ".." || !segmentRE.MatchString(s) {
			return occi.Errorf(occi.InvalidArgument, "entity path %q has an invalid segment %q: letters, digits, '.', '_', '~' and '-' only, no '.' or '..'", path, s)
		}
	}
	if segs[0] == "-" || segs[0] == ".well-known" {
		return occi.Errorf(occi.Conflict, "entity path %q is inside a path the server reserves", path)
	}
	if "/"+segs[0]+"/" == registry.TemplatesLocation {
		return occi.Errorf(occi.Forbidden, "entity path %q is under %s, which is reserved for the providers' templates", path, registry.TemplatesLocation)
	}
	// The last segment is the entity's id: PUT follows the id rule of a
	// POST.
	if err := checkID(segs[len(segs)-1]); err != nil {
		return occi.Prefix("entity path "+path, err)
	}
	// No entity inside a mixin location: that path lists the mixin's
	// members.
	for i := 1; i < len(path); i++ {
		if path[i] != '/' {
			continue
		}
		if id, ok := snap.AtLocation(path[:i+1]); ok {
			if _, isMixin := snap.Mixin(id); isMixin {
				return occi.Errorf(occi.Conflict, "entity path %q is inside %s, the location of mixin %s", path, path[:i+1], id)
			}
		}
	}
	return nil
}

// kindLocationOf returns the kind whose location the path is in, if any.
func kindLocationOf(snap *registry.Snapshot, path string) (string, bool) {
	for i := len(path) - 1; i > 0; i-- {
		if path[i] != '/' {
			continue
		}
		if id, ok := snap.AtLocation(path[:i+1]); ok {
			if _, isKind := snap.Kind(id); isKind {
				return id, true
			}
		}
	}
	return "", false
}
