package engine

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/ocni/ocni/occi"
)

// TestConcurrentMixedOperations runs many clients at once on a small set of
// entities, with every kind of operation that can conflict: creates and
// deletes of link sources and targets, link creates, mixin associations and
// removals, a mixin removed from the model and registered again, and
// partial updates of one shared entity. Whatever each request answers, the
// store must end consistent (link ends, registered categories, indexes, no
// intent left), and every acknowledged partial update must be visible.
// OCNI_MIXED_CLIENTS and OCNI_MIXED_OPS make it larger.
func TestConcurrentMixedOperations(t *testing.T) {
	clients, ops := envInt("OCNI_MIXED_CLIENTS", 50), envInt("OCNI_MIXED_OPS", 20)
	w := newWorld(t, nil)
	ctx := context.Background()
	const scheme = "http://example.com/occi#"
	// Each client owns one attribute of the shared compute, through this
	// mixin, so that "acknowledged last" has one meaning per attribute.
	owned := occi.Attributes{}
	for c := range clients {
		owned[attrOf(c)] = &occi.AttributeDef{Type: occi.TypeString, Mutable: true}
	}
	clientsMixin := &occi.Mixin{Category: occi.Category{Scheme: scheme, Term: "clients"}, Location: "/clients/", Attributes: owned}
	tag := &occi.Mixin{Category: occi.Category{Scheme: scheme, Term: "tag"}, Location: "/tag/"}
	if _, err := w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{clientsMixin, tag}}}); err != nil {
		t.Fatal(err)
	}
	shared := compute("shared")
	shared.Mixins = append(shared.Mixins, clientsMixin.ID())
	w.create(shared)
	w.dummy().SetLatency(time.Millisecond)

	// A small pool of names, so that operations collide.
	names := func(prefix string, n int) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = prefix + strconv.Itoa(i)
		}
		return out
	}
	computes, storages, networks := names("c", 6), names("s", 6), names("n", 4)
	acked := make([]string, clients)
	var answers sync.Map // outcome → count, for the log
	count := func(what string, err error) {
		outcome := what + " ok"
		if err != nil {
			outcome = what + " " + occi.CodeOf(err).String()
			if occi.CodeOf(err) == occi.Internal {
				t.Errorf("%s: internal error: %v", what, err)
			}
		}
		v, _ := answers.LoadOrStore(outcome, new(int64))
		mu.Lock()
		*(v.(*int64))++
		mu.Unlock()
	}
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(c), 42))
			pick := func(from []string) string { return from[r.IntN(len(from))] }
			for n := range ops {
				var err error
				var what string
				switch op := r.IntN(10); op {
				case 0:
					what = "create compute"
					_, err = w.eng.Create(ctx, compute(pick(computes)), Placement{})
				case 1:
					what = "create storage"
					_, err = w.eng.Create(ctx, storage(pick(storages)), Placement{})
				case 2:
					what = "create network"
					_, err = w.eng.Create(ctx, network(pick(networks)), Placement{})
				case 3:
					what = "create storagelink"
					_, err = w.eng.Create(ctx, storageLink("", "/compute/"+pick(computes), "/storage/"+pick(storages)), Placement{})
				case 4:
					what = "create networkinterface"
					_, err = w.eng.Create(ctx, &Input{Kind: occi.NetworkInterfaceID, Source: &occi.LinkEnd{Location: "/compute/" + pick(computes)},
						Target: &occi.LinkEnd{Location: "/network/" + pick(networks)}}, Placement{})
				case 5:
					what = "delete"
					loc := pick([]string{"/compute/" + pick(computes), "/storage/" + pick(storages), "/network/" + pick(networks)})
					err = w.eng.Delete(ctx, loc)
				case 6:
					what = "associate"
					err = w.eng.Members(ctx, tag.ID(), []string{"/compute/" + pick(computes)}, Associate)
				case 7:
					what = "dissociate"
					err = w.eng.Members(ctx, tag.ID(), []string{"/compute/" + pick(computes)}, Dissociate)
				case 8:
					if r.IntN(2) == 0 {
						what = "remove mixin"
						_, err = w.eng.ChangeCategories(ctx, &CategoryChange{Remove: []string{tag.ID()}})
					} else {
						what = "register mixin"
						_, err = w.eng.ChangeCategories(ctx, &CategoryChange{Add: occi.Categories{Mixins: []*occi.Mixin{tag}}})
					}
				default:
					what = "partial update"
					value := fmt.Sprintf("client %d update %d", c, n)
					_, err = w.eng.Update(ctx, "/compute/shared", &Input{Attributes: map[string]any{attrOf(c): value}})
					if err == nil {
						acked[c] = value
					}
				}
				count(what, err)
			}
		}()
	}
	wg.Wait()
	w.dummy().SetLatency(0)
	answers.Range(func(k, v any) bool {
		t.Logf("%-40s %d", k, *(v.(*int64)))
		return true
	})
	w.checkInvariants()
	v, err := w.eng.Get(ctx, "/compute/shared")
	if err != nil {
		t.Fatal(err)
	}
	for c := range clients {
		if acked[c] != "" && v.Attributes[attrOf(c)] != acked[c] {
			t.Errorf("client %d: %s = %v, but %q was acknowledged last", c, attrOf(c), v.Attributes[attrOf(c)], acked[c])
		}
	}
	// The VIM holds exactly what the store holds.
	if got, want := len(w.vimIDs()), len(w.entityLocations()); got != want {
		t.Errorf("the VIM holds %d objects, the store %d entities", got, want)
	}
}

var mu sync.Mutex

func attrOf(client int) string { return "com.example.client" + strconv.Itoa(client) }

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}
