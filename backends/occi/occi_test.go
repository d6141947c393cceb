package occi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/backendtest"
	"github.com/ocni/ocni/backends/dummy"
	ocniprovider "github.com/ocni/ocni/backends/occi"
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/occi/client"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/server"
	"github.com/ocni/ocni/store"
)

// remote starts an ocni server serving the infrastructure kinds with a
// dummy provider: the endpoint the occi provider delegates to.
func remote(t *testing.T) *httptest.Server {
	t.Helper()
	vim, err := backends.Open("dummy", dummy.DriverName, nil)
	if err != nil {
		t.Fatal(err)
	}
	return serve(t, "dummy", vim)
}

// serve starts an ocni server whose infrastructure kinds are bound to the
// provider.
func serve(t *testing.T, name string, vim backends.Provider) *httptest.Server {
	t.Helper()
	db, err := store.Open(filepath.Join(t.TempDir(), "ocni.db"))
	if err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	reg, err := registry.New(db, registry.Options{
		Providers: []string{name},
		Defaults: map[string]string{
			occi.ComputeKindID: name, occi.StorageKindID: name, occi.NetworkKindID: name,
			occi.NetworkInterfaceID: name, occi.StorageLinkKindID: name,
		},
		Logger: logger,
	})
	if err != nil {
		t.Fatal(err)
	}
	eng := engine.New(reg, db, engine.Options{
		Providers: map[string]backends.Provider{name: vim}, DefaultProvider: name, Logger: logger,
	})
	ts := httptest.NewServer(server.New(server.Config{Engine: eng, Logger: logger}))
	t.Cleanup(func() {
		ts.Close()
		_ = vim.Close()
		_ = db.Close()
	})
	return ts
}

func open(t *testing.T, opts map[string]any) backends.Provider {
	t.Helper()
	p, err := backends.Open("fed", ocniprovider.DriverName, opts)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformance(t *testing.T) {
	a := remote(t)
	for _, rendering := range []string{"json", "text/plain"} {
		t.Run(strings.ReplaceAll(rendering, "/", "-"), func(t *testing.T) {
			backendtest.Run(t, backendtest.Harness{New: func(t *testing.T) backends.Provider {
				return open(t, map[string]any{"endpoint": a.URL, "rendering": rendering, "timeout": "5s"})
			}})
		})
	}
}

func TestCapabilities(t *testing.T) {
	a := remote(t)
	p := open(t, map[string]any{"endpoint": a.URL})
	defer p.Close()
	caps := p.Capabilities()
	for _, k := range []string{occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID, occi.NetworkInterfaceID, occi.StorageLinkKindID} {
		if !caps.ServesKind(k) {
			t.Errorf("Capabilities.Kinds = %v: no %s", caps.Kinds, k)
		}
	}
	for _, a := range []string{occi.StartActionID, occi.UpActionID, occi.OnlineActionID} {
		if !caps.ServesAction(a) {
			t.Errorf("Capabilities.Actions = %v: no %s", caps.Actions, a)
		}
	}
	if caps.Volatile {
		t.Error("the provider says it is volatile: the remote keeps its entities")
	}
	if r, ok := p.(interface{ RefreshInterval() time.Duration }); !ok || r.RefreshInterval() != 30*time.Second {
		t.Errorf("RefreshInterval: not the default 30s")
	}
}

// A remote that is down gives Unavailable naming it, at New and on every
// call, within the timeout.
func TestRemoteDown(t *testing.T) {
	a := remote(t)
	p := open(t, map[string]any{"endpoint": a.URL, "timeout": "2s"})
	defer p.Close()
	a.Close()

	o := backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID())
	start := time.Now()
	_, err := p.Create(t.Context(), o)
	if !errors.Is(err, occi.ErrUnavailable) || !strings.Contains(err.Error(), a.URL) {
		t.Errorf("Create on a remote that is down = %v (%s), want Unavailable naming %s", err, occi.CodeOf(err), a.URL)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("Create on a remote that is down took %s", d)
	}
	if _, err := p.List(t.Context(), backendtest.Instance); !errors.Is(err, occi.ErrUnavailable) {
		t.Errorf("List on a remote that is down = %v, want Unavailable", err)
	}

	if _, err := backends.Open("fed", ocniprovider.DriverName, map[string]any{"endpoint": a.URL, "timeout": "1s"}); err == nil || !strings.Contains(err.Error(), a.URL) {
		t.Errorf("Open on a remote that is down = %v, want an error naming %s", err, a.URL)
	}
}

// A remote that does not answer in time gives Unavailable after the
// timeout, not a hang.
func TestRemoteHangs(t *testing.T) {
	a := remote(t)
	// The query interface answers, nothing else does.
	stuck := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/-/" {
			a.Config.Handler.ServeHTTP(w, r)
			return
		}
		<-r.Context().Done()
	}))
	defer stuck.Close()
	p := open(t, map[string]any{"endpoint": stuck.URL, "timeout": "300ms"})
	defer p.Close()
	start := time.Now()
	_, err := p.Create(t.Context(), backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID()))
	if !errors.Is(err, occi.ErrUnavailable) || !strings.Contains(err.Error(), stuck.URL) {
		t.Errorf("Create on a remote that hangs = %v (%s), want Unavailable naming %s", err, occi.CodeOf(err), stuck.URL)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Create on a remote that hangs took %s, the timeout is 300ms", d)
	}
}

// A remote's refusal comes back with its code and message.
func TestRemoteRefuses(t *testing.T) {
	a := remote(t)
	for _, rendering := range []string{"json", "text/plain"} {
		t.Run(strings.ReplaceAll(rendering, "/", "-"), func(t *testing.T) {
			p := open(t, map[string]any{"endpoint": a.URL, "rendering": rendering})
			defer p.Close()
			o := backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID())
			o.Attributes["occi.compute.cores"] = -3.0
			_, err := p.Create(t.Context(), o)
			if !errors.Is(err, occi.ErrInvalidArgument) || !strings.Contains(err.Error(), "occi.compute.cores") || !strings.Contains(err.Error(), a.URL) {
				t.Errorf("Create with an invalid attribute = %v (%s), want InvalidArgument with the remote's message", err, occi.CodeOf(err))
			}
			if ids, err := p.List(t.Context(), backendtest.Instance); err != nil || len(ids) != 0 {
				t.Errorf("List after a refused Create = %v, %v", ids, err)
			}
		})
	}
}

// Another ocni's entities on the same remote are not listed, and what is
// reported back is what the remote decided, without the tag.
func TestInstances(t *testing.T) {
	a := remote(t)
	p := open(t, map[string]any{"endpoint": a.URL})
	defer p.Close()
	ctx := context.Background()
	mine := backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID())
	theirs := backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID())
	theirs.Instance = backendtest.OtherInstance
	for _, o := range []*backends.Object{mine, theirs} {
		attrs, err := p.Create(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		for name := range attrs {
			if strings.HasPrefix(name, "occi.core.") {
				t.Errorf("Create reported %s = %v: core attributes are the engine's", name, attrs[name])
			}
		}
		if attrs["occi.compute.state"] == nil {
			t.Errorf("Create reported %v: no state", attrs)
		}
	}
	ids, err := p.List(ctx, backendtest.Instance)
	if err != nil || len(ids) != 1 || ids[0] != mine.ID {
		t.Errorf("List = %v, %v; want only %s", ids, err, mine.ID)
	}
	for _, o := range []*backends.Object{mine, theirs} {
		if err := p.Delete(ctx, o); err != nil {
			t.Error(err)
		}
	}
}

// Updates keep the tag, remove what the object drops (by a replacement),
// and answer NotFound once the remote entity is gone.
func TestUpdate(t *testing.T) {
	a := remote(t)
	for _, rendering := range []string{"json", "text/plain"} {
		t.Run(strings.ReplaceAll(rendering, "/", "-"), func(t *testing.T) {
			p := open(t, map[string]any{"endpoint": a.URL, "rendering": rendering})
			defer p.Close()
			ctx := t.Context()
			o := backendtest.DefaultObject(occi.ComputeKindID, backendtest.NewID())
			o.Attributes["occi.compute.hostname"] = "first.example.org"
			if _, err := p.Create(ctx, o); err != nil {
				t.Fatal(err)
			}
			defer func() { _ = p.Delete(context.Background(), o) }()

			retitled := o.Clone()
			retitled.Attributes[occi.AttrSummary] = "a new summary"
			if _, err := p.Update(ctx, o, retitled); err != nil {
				t.Fatalf("Update of the summary: %v", err)
			}
			unnamed := retitled.Clone()
			delete(unnamed.Attributes, "occi.compute.hostname")
			if _, err := p.Update(ctx, retitled, unnamed); err != nil {
				t.Fatalf("Update dropping the hostname: %v", err)
			}
			attrs, err := p.Retrieve(ctx, unnamed)
			if err != nil {
				t.Fatal(err)
			}
			if h, ok := attrs["occi.compute.hostname"]; ok {
				t.Errorf("Retrieve after the hostname was dropped: occi.compute.hostname = %v", h)
			}
			if attrs["occi.compute.state"] == nil {
				t.Errorf("Retrieve = %v: no state", attrs)
			}
			ids, err := p.List(ctx, backendtest.Instance)
			if err != nil || !slices.Contains(ids, o.ID) {
				t.Errorf("List after the updates = %v, %v: the tag was lost", ids, err)
			}
			if _, err := p.Update(ctx, unnamed, unnamed.Clone()); err != nil {
				t.Errorf("Update changing nothing: %v", err)
			}
		})
	}
}

// A second ocni delegating to A through the provider: what its clients
// make lands on A at the same paths, actions run there, and deletes remove
// it there.
func TestFederation(t *testing.T) {
	a := remote(t)
	fed := open(t, map[string]any{"endpoint": a.URL})
	b := serve(t, "fed", fed)
	cb, err := client.New(b.URL)
	if err != nil {
		t.Fatal(err)
	}
	ca, err := client.New(a.URL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	vm, _, err := cb.Create(ctx, "/compute/", &occi.Resource{Entity: occi.Entity{
		Kind: occi.ComputeKindID, Attributes: map[string]any{"occi.compute.cores": 2.0, occi.AttrTitle: "vm"},
	}})
	if err != nil {
		t.Fatal(err)
	}
	net, _, err := cb.Create(ctx, "/network/", &occi.Resource{Entity: occi.Entity{Kind: occi.NetworkKindID}})
	if err != nil {
		t.Fatal(err)
	}
	nicLoc, nic, err := cb.CreateLink(ctx, "/networkinterface/", &occi.Link{
		Entity: occi.Entity{Kind: occi.NetworkInterfaceID, Attributes: map[string]any{"occi.networkinterface.interface": "eth0"}},
		Source: occi.LinkEnd{Location: vm}, Target: occi.LinkEnd{Location: net},
	})
	if err != nil {
		t.Fatal(err)
	}
	remoteNIC, err := ca.Get(ctx, pathOf(t, nicLoc))
	if err != nil {
		t.Fatalf("the network interface is not on A at its path: %v", err)
	}
	if mac := remoteNIC.Link.Attributes["occi.networkinterface.mac"]; mac == nil || mac != nic.Attributes["occi.networkinterface.mac"] {
		t.Errorf("MAC on A %v, on B %v: B does not report what A decided", mac, nic.Attributes["occi.networkinterface.mac"])
	}
	if _, err := cb.Action(ctx, vm, occi.StopActionID, map[string]any{"method": "poweroff"}); err != nil {
		t.Fatal(err)
	}
	onA, err := ca.Get(ctx, pathOf(t, vm))
	if err != nil {
		t.Fatal(err)
	}
	if s := onA.Resource.Attributes["occi.compute.state"]; s != "inactive" {
		t.Errorf("state on A after a stop on B: %v", s)
	}
	if _, err := cb.Action(ctx, vm, occi.SuspendActionID, nil); !errors.Is(err, occi.ErrFailedPrecondition) {
		t.Errorf("suspend of a stopped compute through B = %v, want FailedPrecondition", err)
	}
	if err := cb.Delete(ctx, vm); err != nil {
		t.Fatal(err)
	}
	if _, err := ca.Get(ctx, pathOf(t, vm)); !errors.Is(err, occi.ErrNotFound) {
		t.Errorf("the compute deleted on B is still on A: %v", err)
	}
}

func pathOf(t *testing.T, loc string) string {
	t.Helper()
	u, err := url.Parse(loc)
	if err != nil {
		t.Fatal(err)
	}
	return u.Path
}
