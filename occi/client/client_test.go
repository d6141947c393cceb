package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/dummy"
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/server"
	"github.com/ocni/ocni/store"
)

// newServer starts a real ocni server in process, on a fresh data file, with
// the dummy provider; wrap, if given, sits in front of it.
func newServer(t *testing.T, wrap func(http.Handler) http.Handler) *httptest.Server {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "ocni.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := registry.New(db, registry.Options{
		Providers: []string{"dummy"},
		Defaults: map[string]string{
			occi.ComputeKindID: "dummy", occi.StorageKindID: "dummy", occi.NetworkKindID: "dummy",
			occi.NetworkInterfaceID: "dummy", occi.StorageLinkKindID: "dummy",
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	p, err := backends.Open("dummy", dummy.DriverName, nil)
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(reg, db, engine.Options{
		Providers: map[string]backends.Provider{"dummy": p}, MaxPage: 50, Logger: logger, DefaultProvider: "dummy",
	})
	var h http.Handler = server.New(server.Config{Engine: eng, BodyLimit: 1 << 20, Logger: logger})
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(ts.Close)
	return ts
}

func newClient(t *testing.T, endpoint string, opts ...Option) *Client {
	t.Helper()
	c, err := New(endpoint, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var renderings = []Rendering{JSON, TextPlain}

// short names a rendering in ids and paths.
func short(r Rendering) string { return map[Rendering]string{JSON: "json", TextPlain: "text"}[r] }

func compute(id string) *occi.Resource {
	return &occi.Resource{Entity: occi.Entity{
		Kind:       occi.ComputeKindID,
		ID:         id,
		Attributes: map[string]any{"occi.compute.hostname": id},
	}}
}

func TestNewRefusesBadEndpoints(t *testing.T) {
	for _, ep := range []string{"", "ftp://x/", "http://", "http://u:p@h/", "http://h/?a=b", "::"} {
		if _, err := New(ep); !errors.Is(err, occi.ErrInvalidArgument) {
			t.Errorf("New(%q) = %v, want InvalidArgument", ep, err)
		}
	}
	if _, err := New("http://h", WithRendering("text/html")); !errors.Is(err, occi.ErrInvalidArgument) {
		t.Errorf("unknown rendering accepted: %v", err)
	}
}

func TestResolve(t *testing.T) {
	c := newClient(t, "http://h:1/occi")
	for in, want := range map[string]string{
		"/compute/x":          "http://h:1/compute/x",
		"compute/":            "http://h:1/occi/compute/",
		"http://other/net/n1": "http://other/net/n1",
	} {
		if got, err := c.Resolve(in); err != nil || got != want {
			t.Errorf("Resolve(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := c.Resolve("mailto:x@y"); !errors.Is(err, occi.ErrInvalidArgument) {
		t.Errorf("mailto accepted: %v", err)
	}
}

func TestDiscovery(t *testing.T) {
	ts := newServer(t, nil)
	for _, r := range renderings {
		t.Run(string(r), func(t *testing.T) {
			c := newClient(t, ts.URL, WithRendering(r))
			cats, bindings, err := c.Categories(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			if !hasKind(cats, occi.ComputeKindID) || !hasKind(cats, occi.NetworkInterfaceID) {
				t.Fatalf("compute or networkinterface missing from %v", cats.IDs())
			}
			if r == JSON && bindings[occi.ComputeKindID] != "dummy" {
				t.Errorf("bindings = %v, want compute bound to dummy", bindings)
			}
			cats, _, err = c.Categories(context.Background(), occi.ComputeKindID)
			if err != nil {
				t.Fatal(err)
			}
			if ids := cats.IDs(); len(ids) != 1 || ids[0] != occi.ComputeKindID {
				t.Errorf("filtered discovery = %v, want only compute", ids)
			}
		})
	}
}

func hasKind(cs *occi.Categories, id string) bool {
	for _, k := range cs.Kinds {
		if k.ID() == id {
			return true
		}
	}
	return false
}

func TestCRUD(t *testing.T) {
	ts := newServer(t, nil)
	ctx := context.Background()
	for _, r := range renderings {
		t.Run(string(r), func(t *testing.T) {
			c := newClient(t, ts.URL, WithRendering(r))
			sfx := short(r)

			// A compute by POST to its kind's collection, a network by PUT at a path.
			loc, vm, err := c.Create(ctx, "/compute/", compute("vm-"+sfx))
			if err != nil {
				t.Fatal(err)
			}
			if want := ts.URL + "/compute/vm-" + sfx; loc != want {
				t.Errorf("location = %q, want %q", loc, want)
			}
			if vm.ID != "vm-"+sfx || vm.Kind != occi.ComputeKindID {
				t.Errorf("created %+v", vm.Entity)
			}
			netLoc, netw, err := c.Create(ctx, "network/lan-"+sfx, &occi.Resource{Entity: occi.Entity{Kind: occi.NetworkKindID}})
			if err != nil {
				t.Fatal(err)
			}
			if netw.ID != "lan-"+sfx || netLoc != ts.URL+"/network/lan-"+sfx {
				t.Errorf("network at %s is %+v", netLoc, netw.Entity)
			}

			// A network interface between them: ends given relative and absolute.
			linkLoc, l, err := c.CreateLink(ctx, "/networkinterface/", &occi.Link{
				Entity: occi.Entity{Kind: occi.NetworkInterfaceID, ID: "nic-" + sfx, Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}},
				Source: occi.LinkEnd{Location: "/compute/vm-" + sfx},
				Target: occi.LinkEnd{Location: netLoc},
			})
			if err != nil {
				t.Fatal(err)
			}
			if !strings.HasSuffix(l.Target.Location, "/network/lan-"+sfx) || !strings.HasSuffix(l.Source.Location, "/compute/vm-"+sfx) {
				t.Errorf("link ends %+v %+v", l.Source, l.Target)
			}

			got, err := c.Get(ctx, loc)
			if err != nil {
				t.Fatal(err)
			}
			if got.IsLink() || got.Resource.ID != "vm-"+sfx || got.Location != loc || got.Resource.Location != "/compute/vm-"+sfx {
				t.Errorf("Get = %+v", got)
			}
			if len(got.Resource.Links) != 1 {
				t.Errorf("the compute has links %v, want its interface", got.Resource.Links)
			}
			gl, err := c.Get(ctx, linkLoc)
			if err != nil || !gl.IsLink() || gl.Link.Kind != occi.NetworkInterfaceID {
				t.Fatalf("Get(link) = %+v, %v", gl, err)
			}

			// A partial update without a kind, then a full replacement.
			up, err := c.Update(ctx, loc, &occi.Resource{Entity: occi.Entity{Attributes: map[string]any{"occi.compute.hostname": "renamed"}}})
			if err != nil {
				t.Fatal(err)
			}
			if h := up.Resource.Attributes["occi.compute.hostname"]; h != "renamed" {
				t.Errorf("hostname after update = %v", h)
			}
			rep, err := c.Replace(ctx, loc, &occi.Resource{Entity: occi.Entity{Kind: occi.ComputeKindID, Attributes: map[string]any{"occi.compute.cores": 4}}})
			if err != nil {
				t.Fatal(err)
			}
			if h, ok := rep.Resource.Attributes["occi.compute.hostname"]; ok {
				t.Errorf("hostname survived a replacement: %v", h)
			}
			if n, _ := rep.Resource.Attributes["occi.compute.cores"].(float64); n != 4 {
				t.Errorf("cores after replacement = %v", rep.Resource.Attributes["occi.compute.cores"])
			}

			// The network is linked to: 409; the compute goes with its link.
			if err := c.Delete(ctx, netLoc); !errors.Is(err, occi.ErrConflict) && !errors.Is(err, occi.ErrFailedPrecondition) {
				t.Errorf("deleting a linked network: %v, want 409", err)
			}
			if err := c.Delete(ctx, loc); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Get(ctx, linkLoc); !errors.Is(err, occi.ErrNotFound) {
				t.Errorf("the link outlived its source: %v", err)
			}
			if err := c.Delete(ctx, netLoc); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestActions(t *testing.T) {
	ts := newServer(t, nil)
	ctx := context.Background()
	for _, r := range renderings {
		t.Run(string(r), func(t *testing.T) {
			c := newClient(t, ts.URL, WithRendering(r))
			sfx := short(r)
			loc, _, err := c.Create(ctx, "/compute/act-"+sfx, compute("act-"+sfx))
			if err != nil {
				t.Fatal(err)
			}
			e, err := c.Action(ctx, loc, occi.StopActionID, map[string]any{"method": "graceful"})
			if err != nil {
				t.Fatal(err)
			}
			if s := e.Resource.Attributes["occi.compute.state"]; s != "inactive" {
				t.Errorf("state after stop = %v", s)
			}
			// By term alone, without parameters.
			if e, err = c.Action(ctx, loc, "start", nil); err != nil {
				t.Fatal(err)
			}
			if s := e.Resource.Attributes["occi.compute.state"]; s != "active" {
				t.Errorf("state after start = %v", s)
			}
			// Starting an active compute is refused with its code.
			_, err = c.Action(ctx, loc, occi.StartActionID, nil)
			var ce *Error
			if !errors.As(err, &ce) || ce.Status != http.StatusConflict || ce.Message == "" {
				t.Errorf("start of an active compute: %v, want a 409 with a message", err)
			}
			if _, err := c.Action(ctx, loc, "stop", map[string]any{"method": "graceful"}); !errors.Is(err, occi.ErrInvalidArgument) {
				t.Errorf("a term with parameters: %v", err)
			}
		})
	}
	// On a whole collection.
	c := newClient(t, ts.URL)
	done, err := c.CollectionAction(ctx, "/compute/", occi.StopActionID, map[string]any{"method": "graceful"})
	if err != nil {
		t.Fatal(err)
	}
	if len(done) != 2 {
		t.Errorf("the collection action acted on %v, want both computes", done)
	}
	for e, err := range c.All(ctx, "/compute/", ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		if s := e.Resource.Attributes["occi.compute.state"]; s != "inactive" {
			t.Errorf("%s is %v after stopping the collection", e.Resource.ID, s)
		}
	}
}

func TestMixinCollections(t *testing.T) {
	ts := newServer(t, nil)
	ctx := context.Background()
	admin := newClient(t, ts.URL)
	// A tag mixin, registered as an operator would.
	req, _ := http.NewRequest(http.MethodPost, ts.URL+"/-/", strings.NewReader(
		`{"mixins":[{"scheme":"http://example.com/occi/tags#","term":"gold","location":"/tags/gold/"}]}`))
	req.Header.Set("Content-Type", "application/occi+json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("registering the mixin: %d", resp.StatusCode)
	}
	var locs []string
	for i := range 3 {
		loc, _, err := admin.Create(ctx, "/compute/", compute(fmt.Sprintf("m%d", i)))
		if err != nil {
			t.Fatal(err)
		}
		locs = append(locs, loc)
	}
	const gold = "http://example.com/occi/tags#gold"
	for _, r := range renderings {
		t.Run(string(r), func(t *testing.T) {
			c := newClient(t, ts.URL, WithRendering(r))
			if _, err := c.Associate(ctx, "/tags/gold/", locs[0], "/compute/m1"); err != nil {
				t.Fatal(err)
			}
			e, err := c.Get(ctx, locs[0])
			if err != nil {
				t.Fatal(err)
			}
			if !contains(e.Resource.Mixins, gold) {
				t.Errorf("mixins after Associate: %v", e.Resource.Mixins)
			}
			members := listLocations(t, c, "/tags/gold/")
			if len(members) != 2 {
				t.Errorf("members after Associate: %v", members)
			}
			if _, err := c.Dissociate(ctx, "/tags/gold/", locs[0]); err != nil {
				t.Fatal(err)
			}
			if _, err := c.SetMembers(ctx, "tags/gold/", locs[2]); err != nil {
				t.Fatal(err)
			}
			if members := listLocations(t, c, "/tags/gold/"); len(members) != 1 || members[0] != locs[2] {
				t.Errorf("members after SetMembers: %v", members)
			}
			if _, err := c.SetMembers(ctx, "/tags/gold/"); err != nil {
				t.Fatal(err)
			}
			if _, err := c.Associate(ctx, "/tags/gold/", "/compute/nothing"); !errors.Is(err, occi.ErrNotFound) && !errors.Is(err, occi.ErrInvalidArgument) {
				t.Errorf("associating a missing entity: %v", err)
			}
		})
	}
}

func listLocations(t *testing.T, c *Client, coll string) []string {
	t.Helper()
	var out []string
	for loc, err := range c.AllLocations(context.Background(), coll, ListOptions{}) {
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, loc)
	}
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestPaging(t *testing.T) {
	ts := newServer(t, nil)
	ctx := context.Background()
	c := newClient(t, ts.URL)
	for i := range 120 {
		if _, _, err := c.Create(ctx, "/compute/", compute(fmt.Sprintf("p%03d", i))); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range renderings {
		t.Run(string(r), func(t *testing.T) {
			c := newClient(t, ts.URL, WithRendering(r))
			// Page by page, following the cursors.
			var sizes []int
			seen := map[string]bool{}
			p, err := c.List(ctx, "/compute/", ListOptions{})
			for ; err == nil; p, err = c.List(ctx, p.Next, ListOptions{}) {
				sizes = append(sizes, p.Len())
				for _, e := range p.Entities {
					seen[e.Resource.ID] = true
				}
				for _, l := range p.Locations {
					seen[l] = true
				}
				if p.Next == "" {
					break
				}
				if !strings.Contains(p.Next, "after=") {
					t.Errorf("next link %q is not a cursor", p.Next)
				}
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(sizes) != "[50 50 20]" || len(seen) != 120 {
				t.Errorf("pages of %v, %d distinct entities; want [50 50 20], 120", sizes, len(seen))
			}
			// Every entity by the iterator.
			n := 0
			for e, err := range c.All(ctx, "/compute/", ListOptions{}) {
				if err != nil {
					t.Fatal(err)
				}
				if e.Resource == nil || e.Resource.Kind != occi.ComputeKindID {
					t.Fatalf("All yielded %+v", e)
				}
				n++
			}
			if n != 120 {
				t.Errorf("All yielded %d computes, want 120", n)
			}
			// By page number.
			p, err = c.List(ctx, "/compute/", ListOptions{Page: 3, Number: 40})
			if err != nil {
				t.Fatal(err)
			}
			if p.Len() != 40 {
				t.Errorf("page 3 of 40 holds %d", p.Len())
			}
			// Filtered, and too large a page.
			p, err = c.List(ctx, "/compute/", ListOptions{Attribute: "occi.core.id", Value: "p007"})
			if err != nil || p.Len() != 1 || p.Next != "" {
				t.Errorf("filtered listing: %+v, %v", p, err)
			}
			if _, err := c.List(ctx, "/compute/", ListOptions{Number: 51}); !errors.Is(err, &occi.Error{Code: occi.TooLarge}) {
				t.Errorf("a page over max_page: %v, want 413", err)
			}
		})
	}
	// Locations only, and stopping an iterator early.
	n := 0
	for loc, err := range c.AllLocations(ctx, "/compute/", ListOptions{Number: 30}) {
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(loc, ts.URL+"/compute/p") {
			t.Fatalf("location %q", loc)
		}
		if n++; n == 70 {
			break
		}
	}
}

func TestErrors(t *testing.T) {
	ts := newServer(t, nil)
	ctx := context.Background()
	for _, r := range renderings {
		t.Run(string(r), func(t *testing.T) {
			c := newClient(t, ts.URL, WithRendering(r))
			_, err := c.Get(ctx, "/compute/missing")
			var ce *Error
			if !errors.As(err, &ce) {
				t.Fatalf("Get of nothing: %T %v", err, err)
			}
			if ce.Status != 404 || ce.Code != occi.NotFound || ce.Name != "NotFound" || ce.Message == "" || ce.RequestID == "" {
				t.Errorf("404 read as %+v", ce)
			}
			if !errors.Is(err, occi.ErrNotFound) || errors.Is(err, occi.ErrConflict) || occi.CodeOf(err) != occi.NotFound {
				t.Errorf("errors.Is does not see NotFound in %v", err)
			}
			sfx := short(r)
			if _, _, err := c.Create(ctx, "/compute/", compute("dup-"+sfx)); err != nil {
				t.Fatal(err)
			}
			_, _, err = c.Create(ctx, "/compute/", compute("dup-"+sfx))
			if !errors.Is(err, occi.ErrAlreadyExists) || !errors.As(err, &ce) || ce.Status != 409 {
				t.Errorf("a second create of one id: %v", err)
			}
			_, _, err = c.Create(ctx, "/compute/", &occi.Resource{Entity: occi.Entity{
				Kind: occi.ComputeKindID, Attributes: map[string]any{"occi.compute.cores": "many"},
			}})
			if !errors.Is(err, occi.ErrInvalidArgument) || !errors.As(err, &ce) || ce.Status != 400 || !strings.Contains(ce.Message, "occi.compute.cores") {
				t.Errorf("a bad attribute: %v", err)
			}
		})
	}
}

func TestCredentialsSent(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	var agents []string
	ts := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			seen = append(seen, r.Header.Get("Authorization"))
			agents = append(agents, r.Header.Get("User-Agent"))
			mu.Unlock()
			h.ServeHTTP(w, r)
		})
	})
	ctx := context.Background()
	if _, _, err := newClient(t, ts.URL, WithBasicAuth("bob", "s3cret")).Categories(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := newClient(t, ts.URL, WithToken("tok-123"), WithUserAgent("ocnictl/1.0")).Get(ctx, "/compute/x"); !errors.Is(err, occi.ErrNotFound) {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] != "Basic Ym9iOnMzY3JldA==" || seen[1] != "Bearer tok-123" {
		t.Errorf("Authorization fields sent: %q", seen)
	}
	if agents[0] != "ocni-client/"+Version+" OCCI/1.2" || agents[1] != "ocnictl/1.0 ocni-client/"+Version+" OCCI/1.2" {
		t.Errorf("User-Agents sent: %q", agents)
	}
}

// flaky answers 503 to the first fail requests of each method.
func flaky(fail int, counts map[string]*atomic.Int32) func(http.Handler) http.Handler {
	return func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if n := counts[r.Method].Add(1); int(n) <= fail {
				w.Header().Set("Content-Type", "application/occi+json")
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, `{"status":503,"code":"Unavailable","message":"flaky"}`)
				return
			}
			h.ServeHTTP(w, r)
		})
	}
}

func TestRetries(t *testing.T) {
	counts := map[string]*atomic.Int32{}
	for _, m := range []string{http.MethodGet, http.MethodPut, http.MethodPost, http.MethodDelete} {
		counts[m] = &atomic.Int32{}
	}
	ts := newServer(t, flaky(2, counts))
	ctx := context.Background()
	c := newClient(t, ts.URL, WithRetries(3, time.Millisecond))

	if _, _, err := c.Create(ctx, "/compute/r1", compute("r1")); err != nil {
		t.Fatalf("PUT not retried: %v", err)
	}
	if _, err := c.Get(ctx, "/compute/r1"); err != nil {
		t.Fatalf("GET not retried: %v", err)
	}
	// POST is not retried: the first 503 is the answer.
	_, _, err := c.Create(ctx, "/compute/", compute("r2"))
	if !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("POST: %v, want the 503", err)
	}
	if n := counts[http.MethodPost].Load(); n != 1 {
		t.Errorf("POST sent %d times, want once", n)
	}
	if err := c.Delete(ctx, "/compute/r1"); err != nil {
		t.Fatalf("DELETE not retried: %v", err)
	}
	for m, want := range map[string]int32{http.MethodGet: 3, http.MethodPut: 3, http.MethodDelete: 3} {
		if n := counts[m].Load(); n != want {
			t.Errorf("%s sent %d times, want %d", m, n, want)
		}
	}
	// Too few retries: the last 503 is the answer.
	counts[http.MethodGet].Store(0)
	few := newClient(t, ts.URL, WithRetries(1, time.Millisecond))
	if _, err := few.Get(ctx, "/compute/r1"); !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("GET with too few retries: %v", err)
	}
}

func TestRetriesConnectionErrors(t *testing.T) {
	// A server that is gone: every attempt fails to connect.
	ts := httptest.NewServer(http.NotFoundHandler())
	url := ts.URL
	ts.Close()
	c := newClient(t, url, WithRetries(2, time.Millisecond))
	start := time.Now()
	if _, err := c.Get(context.Background(), "/compute/x"); err == nil {
		t.Fatal("no error from a closed server")
	}
	if time.Since(start) > 5*time.Second {
		t.Error("retries took too long")
	}
}

func TestTimeout(t *testing.T) {
	ts := newServer(t, func(h http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if strings.HasPrefix(r.URL.Path, "/compute/slow") {
				select {
				case <-r.Context().Done():
				case <-time.After(5 * time.Second):
				}
				return
			}
			h.ServeHTTP(w, r)
		})
	})
	c := newClient(t, ts.URL, WithTimeout(50*time.Millisecond), WithRetries(2, time.Millisecond))
	start := time.Now()
	_, err := c.Get(context.Background(), "/compute/slow")
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("slow GET: %v, want a deadline error", err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the timeout took %s", d)
	}
	if _, _, err := c.Categories(context.Background()); err != nil {
		t.Errorf("a fast request after a timeout: %v", err)
	}
}

func TestNextLinkParsing(t *testing.T) {
	c := newClient(t, "http://h:1/")
	base, _ := c.resolve("/compute/?number=2")
	for field, want := range map[string]string{
		`</compute/?after=%2Fcompute%2Fa&number=2>; rel="next"`:           "http://h:1/compute/?after=%2Fcompute%2Fa&number=2",
		`<http://h:1/x?a=1,2>; rel="prev", </y>; rel="next last"`:         "http://h:1/y",
		`</z>; title="a, b"; rel=next`:                                    "http://h:1/z",
		`</compute/a?action=stop>; rel="http://schemas.ogf.org/occi/x#a"`: "",
	} {
		a := &answer{header: http.Header{"Link": {field}}, url: base}
		got := ""
		if u := nextLink(a); u != nil {
			got = u.String()
		}
		if got != want {
			t.Errorf("nextLink(%s) = %q, want %q", field, got, want)
		}
	}
}

func TestProblemOfText(t *testing.T) {
	e := problemOf("GET", "http://h/x", &answer{status: 502, header: http.Header{"Content-Type": {"text/html"}}, body: []byte("<html>Bad Gateway</html>")})
	if e.Code != occi.Unavailable || e.Name != "" || !errors.Is(e, occi.ErrUnavailable) {
		t.Errorf("a proxy's 502 read as %+v", e)
	}
	e = problemOf("GET", "http://h/x", &answer{status: 421, header: http.Header{"Content-Type": {"text/plain"}}, body: []byte("MisdirectedRequest: not this host\n")})
	if e.Name != "MisdirectedRequest" || e.Code != occi.InvalidArgument || e.Message != "not this host" {
		t.Errorf("a 421 read as %+v", e)
	}
}
