package engine

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
)

// RegisterTemplates asks every provider that offers templates (images,
// flavours) for them and registers them as mixins: new ones are added,
// changed ones replaced. A template that disappeared from the VIM stays
// registered: entities may still carry it. It runs at start.
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
		ch := &registry.Change{}
		snap := e.reg.Snapshot()
		for _, m := range mixins {
			old, exists := snap.Mixin(m.ID())
			switch {
			case !exists:
				ch.Add.Mixins = append(ch.Add.Mixins, m)
			case !sameJSON(old, m):
				ch.Replace.Mixins = append(ch.Replace.Mixins, m)
			}
		}
		if ch.Add.Len()+ch.Replace.Len() == 0 {
			continue
		}
		if err := e.reg.Apply(ctx, ch); err != nil {
			return n, fmt.Errorf("provider %s: register templates: %w", name, err)
		}
		n += ch.Add.Len() + ch.Replace.Len()
	}
	return n, nil
}

func sameJSON(a, b *occi.Mixin) bool {
	x, errX := json.Marshal(a)
	y, errY := json.Marshal(b)
	return errX == nil && errY == nil && string(x) == string(y)
}
