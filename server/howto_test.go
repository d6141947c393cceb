package server

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func example(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "examples", "categories", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestHowToCategoryManagement replays pyOCNI's HowTo §4.1 with the request
// files of examples/categories, in order, as the README does with curl.
func TestHowToCategoryManagement(t *testing.T) {
	f := newFixture(t)
	steps := []struct {
		name   string
		req    req
		status int
		check  func(t *testing.T, doc map[string][]map[string]any)
	}{
		{"1 all categories", req{method: "GET", path: "/-/"}, 200, func(t *testing.T, doc map[string][]map[string]any) {
			if len(doc["kinds"]) != 8 || len(doc["mixins"]) != 12 || len(doc["actions"]) != 12 {
				t.Errorf("%d kinds, %d mixins, %d actions", len(doc["kinds"]), len(doc["mixins"]), len(doc["actions"]))
			}
		}},
		{"2 filtered", req{method: "GET", path: "/-/", body: example(t, "filter_categories.json")}, 200, func(t *testing.T, doc map[string][]map[string]any) {
			if len(doc["kinds"]) != 1 || len(doc["actions"]) != 1 || len(doc["mixins"]) != 0 {
				t.Errorf("filter answered %v", doc)
			}
		}},
		{"3 add", req{method: "POST", path: "/-/", body: example(t, "post_categories.json")}, 200, func(t *testing.T, doc map[string][]map[string]any) {
			if len(doc["kinds"]) != 1 || len(doc["mixins"]) != 2 || len(doc["actions"]) != 1 {
				t.Errorf("add answered %v", doc)
			}
			if doc["kinds"][0]["x-ocni-provider"] != "dummy" {
				t.Errorf("the vm kind should inherit compute's provider: %v", doc["kinds"][0])
			}
		}},
		{"4 update", req{method: "PUT", path: "/-/", body: example(t, "put_categories.json")}, 200, func(t *testing.T, doc map[string][]map[string]any) {
			if doc["mixins"][0]["title"] != "Gold support tier (24/7)" {
				t.Errorf("update answered %v", doc)
			}
		}},
		{"6 update a kind's provider (pyOCNI form)", req{method: "PUT", path: "/-/", body: example(t, "update_provider.json")}, 200, func(t *testing.T, doc map[string][]map[string]any) {
			if doc["kinds"][0]["x-ocni-provider"] != "lab" {
				t.Errorf("binding answered %v", doc)
			}
		}},
		{"6 bind (ocni form)", req{method: "PUT", path: "/-/", body: example(t, "bind_provider.json")}, 200, nil},
		{"5 delete", req{method: "DELETE", path: "/-/", body: example(t, "delete_categories.json")}, 200, func(t *testing.T, doc map[string][]map[string]any) {
			if len(doc["kinds"])+len(doc["mixins"])+len(doc["actions"]) != 4 {
				t.Errorf("delete answered %v", doc)
			}
		}},
	}
	for _, s := range steps {
		rec := f.do(s.req)
		if rec.Code != s.status {
			t.Fatalf("%s: %d %s", s.name, rec.Code, rec.Body)
		}
		var doc map[string][]map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.check != nil {
			t.Run(s.name, func(t *testing.T) { s.check(t, doc) })
		}
	}
	body := f.do(req{method: "GET", path: "/-/"}).Body.String()
	if strings.Contains(body, "example.com") {
		t.Error("user categories remain after the delete step")
	}
	if !strings.Contains(body, `"location":"/network/","x-ocni-provider":"lab"`) {
		t.Error("the network binding is not shown")
	}
}
