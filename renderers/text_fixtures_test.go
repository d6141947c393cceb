package renderers_test

import (
	"bytes"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

var update = flag.Bool("update", false, "rewrite the golden files under testdata/text/")

const (
	goldMixinID = "http://example.com/occi/tags#gold"
	stopID      = occi.StopActionID
)

// goldMixin is the small user mixin of the fixtures: its attributes have
// every type the text renderings must carry.
func goldMixin() *occi.Mixin {
	return &occi.Mixin{
		Category: occi.Category{Scheme: "http://example.com/occi/tags#", Term: "gold", Title: "Gold tier, \"best\" effort"},
		Applies:  []string{occi.ComputeKindID},
		Depends:  []string{occi.ResourceTplScheme + "medium"},
		Location: "/tags/gold/",
		Attributes: occi.Attributes{
			"com.example.sla":    {Type: occi.TypeNumber, Mutable: true, Default: 99.9, Description: "SLA in percent"},
			"com.example.tags":   {Type: occi.TypeArray, Mutable: true},
			"com.example.labels": {Type: occi.TypeObject, Mutable: true},
			"com.example.vip":    {Type: occi.TypeBoolean, Mutable: false, Required: true},
		},
		Actions: []string{"http://example.com/occi/tags/action#promote"},
	}
}

func promoteAction() *occi.Action {
	return &occi.Action{
		Category:   occi.Category{Scheme: "http://example.com/occi/tags/action#", Term: "promote", Title: "Promote"},
		Attributes: occi.Attributes{"level": {Type: occi.TypeNumber, Mutable: true, Required: true}},
	}
}

// model is what the fixtures' entities are typed against: the built-ins
// and the user categories.
func model() *occi.Categories {
	b := occi.Builtins()
	return &occi.Categories{
		Kinds:   b.Kinds,
		Mixins:  append(append([]*occi.Mixin{}, b.Mixins...), goldMixin()),
		Actions: append(append([]*occi.Action{}, b.Actions...), promoteAction()),
	}
}

// nicLink is a network interface as the server renders it: the core
// attributes both as members and in the attribute map.
func nicLink() *occi.Link {
	return &occi.Link{
		Entity: occi.Entity{
			Kind:   occi.NetworkInterfaceID,
			Mixins: []string{occi.IPNetIfaceMixinID},
			Attributes: map[string]any{
				occi.AttrID: "nic0", occi.AttrTitle: "front, public",
				occi.AttrSource: "/compute/web1", occi.AttrSourceKind: occi.ComputeKindID,
				occi.AttrTarget: "/network/lan", occi.AttrTargetKind: occi.NetworkKindID,
				"occi.networkinterface.interface": "eth0",
				"occi.networkinterface.mac":       "02:00:c0:a8:01:05",
				"occi.networkinterface.address":   "192.168.1.5",
				"occi.networkinterface.state":     "active",
			},
			ID: "nic0", Title: "front, public", Location: "/networkinterface/nic0",
		},
		Source: occi.LinkEnd{Location: "/compute/web1", Kind: occi.ComputeKindID},
		Target: occi.LinkEnd{Location: "/network/lan", Kind: occi.NetworkKindID},
	}
}

func storageLink() *occi.Link {
	return &occi.Link{
		Entity: occi.Entity{
			Kind: occi.StorageLinkKindID,
			Attributes: map[string]any{
				occi.AttrID:     "disk1",
				occi.AttrSource: "/compute/web1", occi.AttrSourceKind: occi.ComputeKindID,
				occi.AttrTarget: "/storage/data1", occi.AttrTargetKind: occi.StorageKindID,
				"occi.storagelink.deviceid":   "vdb",
				"occi.storagelink.mountpoint": "/data",
				"occi.storagelink.state":      "active",
			},
			ID: "disk1", Location: "/storagelink/disk1",
		},
		Source: occi.LinkEnd{Location: "/compute/web1", Kind: occi.ComputeKindID},
		Target: occi.LinkEnd{Location: "/storage/data1", Kind: occi.StorageKindID},
	}
}

// computeWeb1 is a compute with mixins, links, actions and attribute values
// of every type, as the server renders it.
func computeWeb1() *occi.Resource {
	const title, summary = `Web server "front"`, "serves the site; and, on Sundays, the\nblog"
	return &occi.Resource{
		Entity: occi.Entity{
			Kind:   occi.ComputeKindID,
			Mixins: []string{occi.ResourceTplScheme + "medium", occi.SSHKeyMixinID, goldMixinID},
			Attributes: map[string]any{
				occi.AttrID: "web1", occi.AttrTitle: title, occi.AttrSummary: summary,
				"occi.compute.architecture":      "x64",
				"occi.compute.cores":             2.0,
				"occi.compute.memory":            1.5,
				"occi.compute.hostname":          "web1.example.com",
				"occi.compute.state":             "active",
				"occi.credentials.ssh.publickey": `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIG9k user@host`,
				"com.example.sla":                99.95,
				"com.example.tags":               []any{"web", "prod, eu", 3.0},
				"com.example.labels":             map[string]any{"team": "ops", "tier": 1.0, "on_call": true},
				"com.example.vip":                true,
			},
			Actions: []string{
				stopID, occi.RestartActionID, occi.SuspendActionID,
				occi.SaveActionID, "http://example.com/occi/tags/action#promote",
			},
			ID: "web1", Title: title, Location: "/compute/web1",
		},
		Summary: summary,
		Links:   []*occi.Link{nicLink(), storageLink()},
	}
}

func computeDB1() *occi.Resource {
	return &occi.Resource{
		Entity: occi.Entity{
			Kind:       occi.ComputeKindID,
			Attributes: map[string]any{occi.AttrID: "db1", "occi.compute.state": "inactive"},
			Actions:    []string{occi.StartActionID},
			ID:         "db1", Location: "/compute/db1",
		},
	}
}

// fixture is a message of the golden files.
type fixture struct {
	name string
	msg  any
}

func fixtures() []fixture {
	return []fixture{
		{"query-interface-builtins", &renderers.QueryInterface{Categories: occi.Builtins()}},
		{"query-interface-user", &renderers.QueryInterface{Categories: &occi.Categories{
			Mixins: []*occi.Mixin{goldMixin()}, Actions: []*occi.Action{promoteAction()},
		}}},
		{"compute", computeWeb1()},
		{"link", nicLink()},
		{"collection", &renderers.Collection{Resources: []*occi.Resource{computeWeb1(), computeDB1()}, Links: []*occi.Link{nicLink()}, Base: "http://127.0.0.1:8090"}},
		{"locations", renderers.Locations{"http://127.0.0.1:8090/compute/web1", "/compute/db1"}},
		{"action-invocation", &occi.ActionInvocation{Action: stopID, Attributes: map[string]any{"method": "graceful"}}},
		{"error", &renderers.Problem{Status: 404, Code: "NotFound", Message: "nothing is at /compute/ghost", RequestID: "golden"}},
	}
}

// rendering is one way to encode a message into a golden file.
type rendering struct {
	ext   string
	codec renderers.Codec
}

func renderings() []rendering {
	return []rendering{
		{"plain", renderers.TextPlain{}},
		{"occi", renderers.TextOCCI{}},
		{"urilist", renderers.URIList{}},
		{"json", renderers.JSON{}},
	}
}

// render encodes v as a golden file shows it: the header fields the codec
// set (one per line, sorted), a blank line, then the body. An encoding
// error is shown as such.
func render(c renderers.Codec, v any) []byte {
	h := http.Header{}
	var body bytes.Buffer
	if err := c.Encode(h, &body, v); err != nil {
		return []byte("error: " + occi.CodeOf(err).String() + ": " + err.Error() + "\n")
	}
	keys := make([]string, 0, len(h))
	for k := range h {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b bytes.Buffer
	for _, k := range keys {
		for _, v := range h[k] {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	b.Write(body.Bytes())
	return b.Bytes()
}

// golden compares got with testdata/text/name, or rewrites it with -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "text", name)
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (go test -update creates it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the golden file (go test -update rewrites it):\n%s", name, got)
	}
}

// goldenFiles returns the golden files of one rendering.
func goldenFiles(t testing.TB, ext string) map[string][]byte {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "text", "*."+ext+".golden"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no golden files *.%s.golden: %v", ext, err)
	}
	out := map[string][]byte{}
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(p)] = b
	}
	return out
}

// vectors returns the rOCCI-core text renderings kept under testdata.
func vectors(t testing.TB) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	for _, pattern := range []string{"text-samples/*.text", "rendering/*.txt"} {
		paths, err := filepath.Glob(filepath.Join("testdata", "vectors", "rocci-core", pattern))
		if err != nil {
			t.Fatal(err)
		}
		for _, p := range paths {
			b, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			out[filepath.Base(p)] = b
		}
	}
	if len(out) == 0 {
		t.Fatal("no rOCCI vectors under testdata/vectors")
	}
	return out
}
