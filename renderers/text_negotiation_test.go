package renderers_test

import (
	"slices"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

func TestDefaultSet(t *testing.T) {
	s := renderers.DefaultSet()
	if got, want := s.MediaTypes(), []string{jsonType, "text/plain", "text/occi", "text/uri-list"}; !slices.Equal(got, want) {
		t.Errorf("MediaTypes() = %q, want %q", got, want)
	}
}

func TestForResponseText(t *testing.T) {
	const (
		rocci  = "rOCCI-cli/4.3.0 OCCI/1.1"
		occi12 = "occi-client/1.0 OCCI/1.2"
	)
	tests := []struct {
		name, accept, ua string
		want             renderers.Codec
	}{
		{"no Accept", "", "curl/8.5.0", renderers.JSON{}},
		{"anything", "*/*", "curl/8.5.0", renderers.JSON{}},
		{"OCCI/1.2 client, no Accept", "", occi12, renderers.JSON{}},
		{"OCCI/1.1 client, no Accept", "", rocci, renderers.TextPlain{OCCI11: true}},
		{"OCCI/1.1 client, anything", "*/*", rocci, renderers.TextPlain{OCCI11: true}},
		{"OCCI/1.1 client, lower case", "", "pyssf occi/1.1", renderers.TextPlain{OCCI11: true}},
		{"OCCI/1.0 client", "", "old OCCI/1.0", renderers.TextPlain{OCCI11: true}},
		{"OCCI/1.1 client asking for JSON", jsonType, rocci, renderers.JSON{}},
		{"OCCI/1.1 client asking for text/occi", "text/occi", rocci, renderers.TextOCCI{OCCI11: true}},
		{"OCCI/1.1 client asking for a listing", "text/uri-list", rocci, renderers.URIList{}},
		{"text/plain", "text/plain", "", renderers.TextPlain{}},
		{"text/occi", "text/occi", "", renderers.TextOCCI{}},
		{"text/uri-list", "text/uri-list", "", renderers.URIList{}},
		{"text/occi+plain is text/plain", "text/occi+plain", "", renderers.TextPlain{}},
		{"q-values decide", "text/plain;q=0.5, text/occi", "", renderers.TextOCCI{}},
		{"q-values against JSON", "application/occi+json;q=0.1, text/plain;q=0.2", "", renderers.TextPlain{}},
		{"text/* is text/plain first", "text/*", "", renderers.TextPlain{}},
		{"a specific range beats a wildcard", "text/*;q=0.9, text/uri-list;q=0.1, */*;q=0.5", "", renderers.TextPlain{}},
		{"equal q: the set's order", "text/occi, text/plain", "", renderers.TextPlain{}},
		{"equal q for a 1.1 client: text/plain first", "application/occi+json, text/plain", rocci, renderers.TextPlain{OCCI11: true}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := renderers.DefaultSet().ForResponse(tc.accept, tc.ua)
			wantNoErr(t, err)
			if got != tc.want {
				t.Errorf("ForResponse(%q, %q) = %#v, want %#v", tc.accept, tc.ua, got, tc.want)
			}
		})
	}
	_, err := renderers.DefaultSet().ForResponse("text/html", rocci)
	wantCode(t, err, occi.NotAcceptable, "text/html", "text/plain, text/occi, text/uri-list")
	// A set without text/plain serves 1.1 clients its default.
	got, err := renderers.NewSet(renderers.JSON{}).ForResponse("", rocci)
	wantNoErr(t, err)
	if got != (renderers.JSON{}) {
		t.Errorf("JSON-only set: %#v", got)
	}
}

func TestForRequestText(t *testing.T) {
	for ct, want := range map[string]renderers.Codec{
		"text/plain":                renderers.TextPlain{},
		"text/plain; charset=utf-8": renderers.TextPlain{},
		"text/occi+plain":           renderers.TextPlain{},
		"TEXT/OCCI":                 renderers.TextOCCI{},
		"text/uri-list":             renderers.URIList{},
	} {
		got, err := renderers.DefaultSet().ForRequest(ct)
		wantNoErr(t, err)
		if got != want {
			t.Errorf("ForRequest(%q) = %#v, want %#v", ct, got, want)
		}
	}
}

func TestListsOnly(t *testing.T) {
	for _, c := range renderers.DefaultSet().MediaTypes() {
		codec, _ := renderers.DefaultSet().ForRequest(c)
		if got := renderers.ListsOnly(codec); got != (c == "text/uri-list") {
			t.Errorf("ListsOnly(%s) = %v", c, got)
		}
	}
	if renderers.ListsOnly(nil) {
		t.Error("ListsOnly(nil)")
	}
}
