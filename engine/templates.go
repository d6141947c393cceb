package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
)

// RegisterTemplates asks every provider that offers templates (images,
// flavours) for them and registers them as mixins: new ones are added,
// changed ones replaced, and all become the provider's, which clients can
// neither remove nor redefine. A template that disappeared from the VIM
// stays registered: entities may still carry it. It runs at start.
//
// What clients stored never stops a start: a template whose id is a
// client's category, or whose location clashes with one (a data file from
// before /templates/ was reserved), is skipped with a warning that names
// the category, and the rest register. The client's category stays as it
// is, with the entities that use it; once an operator removes it, the next
// start registers the template. Replacing it instead would change, under
// its entities, what they were created with.
func (e *Engine) RegisterTemplates(ctx context.Context) (int, error) {
	n := 0
	for _, name := range slices.Sorted(maps.Keys(e.providers)) {
		ts, ok := e.providers[name].(backends.TemplateSource)
		if !ok {
			continue
		}
		mixins, err := ts.Templates(ctx)
		if err != nil {
			return n, fmt.Errorf("provider %s: templates: %w", name, err)
		}
		ch := &registry.Change{Origin: registry.FromProvider, Provider: name}
		snap := e.reg.Snapshot()
		for _, m := range mixins {
			one := &registry.Change{Origin: registry.FromProvider, Provider: name}
			old, exists := snap.Mixin(m.ID())
			switch {
			case exists && !ownedByProvider(snap, old):
				e.log.Warn("template skipped: a client's category has its id; remove that category to have the template",
					"provider", name, "template", m.ID(), "location", old.Location)
				continue
			case !exists:
				one.Add.Mixins = []*occi.Mixin{m}
			case !sameJSON(old, m):
				one.Replace.Mixins = []*occi.Mixin{m}
			default:
				one.Claim = []string{m.ID()}
			}
			// Checked alone against the model as it is: what clashes
			// with a stored category is left out, not fatal.
			if _, err := e.reg.Check(one); err != nil {
				e.log.Warn("template skipped: it clashes with a registered category", "provider", name, "template", m.ID(), "reason", err.Error())
				continue
			}
			ch.Add.Mixins = append(ch.Add.Mixins, one.Add.Mixins...)
			ch.Replace.Mixins = append(ch.Replace.Mixins, one.Replace.Mixins...)
			ch.Claim = append(ch.Claim, one.Claim...)
		}
		if ch.Add.Len()+ch.Replace.Len()+len(ch.Claim) == 0 {
			continue
		}
		if err := e.reg.Apply(ctx, ch); err != nil {
			return n, fmt.Errorf("provider %s: register templates: %w", name, err)
		}
		n += ch.Add.Len() + ch.Replace.Len()
	}
	return n, nil
}

// ownedByProvider reports whether a registered mixin of a template's id is
// the provider's own from an earlier start: marked so, or at a location
// only providers take (an earlier version did not mark them).
func ownedByProvider(snap *registry.Snapshot, m *occi.Mixin) bool {
	if _, ok := snap.ProvidedBy(m.ID()); ok {
		return true
	}
	return strings.HasPrefix(m.Location, registry.TemplatesLocation) && !snap.IsBuiltin(m.ID())
}

func sameJSON(a, b *occi.Mixin) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && string(x) == string(y)
}
