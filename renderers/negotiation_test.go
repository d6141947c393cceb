package renderers_test

import (
	"io"
	"net/http"
	"slices"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// plainText stands in for a second rendering, so that negotiation has a
// choice to make. It never reads or writes anything.
type plainText struct{}

func (plainText) MediaType() string { return "text/plain" }

func (plainText) Decode(http.Header, []byte, any) error {
	return occi.Errorf(occi.Unimplemented, "test codec")
}

func (plainText) Encode(http.Header, io.Writer, any) error {
	return occi.Errorf(occi.Unimplemented, "test codec")
}

var _ renderers.Codec = plainText{}

const (
	jsonType = renderers.JSONMediaType
	textType = "text/plain"
)

// twoCodecs is the set the negotiation tests choose from: the JSON codec,
// which is the default, then text/plain.
func twoCodecs() *renderers.Set { return renderers.NewSet(renderers.JSON{}, plainText{}) }

func TestSetDefaultAndMediaTypes(t *testing.T) {
	s := twoCodecs()
	if got := s.Default().MediaType(); got != jsonType {
		t.Errorf("Default() = %s, want %s", got, jsonType)
	}
	if got, want := s.MediaTypes(), []string{jsonType, textType}; !slices.Equal(got, want) {
		t.Errorf("MediaTypes() = %q, want %q", got, want)
	}
	swapped := renderers.NewSet(plainText{}, renderers.JSON{})
	if got := swapped.Default().MediaType(); got != textType {
		t.Errorf("Default() of a set led by text/plain = %s, want %s", got, textType)
	}
}

func TestForResponse(t *testing.T) {
	tests := []struct {
		name   string
		accept string
		want   string // media type of the chosen codec; "" when none is acceptable
	}{
		{"no Accept", "", jsonType},
		{"blank Accept", " \t ", jsonType},
		{"anything", "*/*", jsonType},
		{"anything with q", "*/*;q=0.8", jsonType},
		{"exact JSON", "application/occi+json", jsonType},
		{"exact text", "text/plain", textType},
		{"exact text with parameters", "text/plain; charset=utf-8", textType},
		{"media types are case-insensitive", "TEXT/Plain", textType},
		{"application/*", "application/*", jsonType},
		{"text/*", "text/*", textType},
		{"equal q goes to the set's order", "text/plain, application/occi+json", jsonType},
		{"higher q wins over the default", "text/plain;q=0.5, application/occi+json", jsonType},
		{"higher q wins over set order", "application/occi+json;q=0.1, text/plain", textType},
		{"q with spaces", "application/occi+json ; q=0.3 , text/plain ; q=0.4", textType},
		{"q=1.0 against q=0.999", "application/occi+json;q=0.999, text/plain;q=1.0", textType},
		{"specific range beats a wildcard", "*/*;q=0.1, text/plain", textType},
		{"most specific range decides a codec's q", "text/plain;q=0.2, */*;q=0.5", jsonType},
		{"type range against exact range", "text/*;q=0.9, application/occi+json;q=0.8", textType},
		{"q=0 refuses a type a wildcard accepts", "application/occi+json;q=0, */*", textType},
		{"q=0 on a type range refuses its types", "text/*;q=0, */*;q=0.1", jsonType},
		{"q=0 on the only range", "application/occi+json;q=0", ""},
		{"q=0.0 on everything", "*/*;q=0.0", ""},
		{"q=0 on both codecs", "text/plain;q=0, application/*;q=0", ""},
		{"malformed ranges are ignored", "text/, /plain, no-slash, text/plain", textType},
		{"malformed parameter is ignored", "application/occi+json;q, text/plain;q=0.5", textType},
		{"empty ranges are ignored", ",, application/occi+json ,", jsonType},
		{"application/json alone", "application/json", jsonType},
		{"application/json with q", "application/json;q=0.5", jsonType},
		{"application/json refused", "application/json;q=0", ""},
		{"other types only", "image/png, application/xml", ""},
		{"other type range", "image/*", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := twoCodecs().ForResponse(tc.accept, "")
			if tc.want == "" {
				wantCode(t, err, occi.NotAcceptable, tc.accept, jsonType+", "+textType)
				if c != nil {
					t.Errorf("got codec %s along with the error", c.MediaType())
				}
				return
			}
			wantNoErr(t, err)
			if got := c.MediaType(); got != tc.want {
				t.Errorf("ForResponse(%q) = %s, want %s", tc.accept, got, tc.want)
			}
		})
	}
}

// ForResponse serves application/occi+json to a client that asks for
// application/json. That has to hold when the client also names other types
// with a lower preference, as browsers and HTTP libraries do, not only when
// application/json is all it accepts.
func TestForResponsePlainJSONTakesPartInPreference(t *testing.T) {
	tests := []struct {
		accept string
		want   string
	}{
		{"application/json, text/plain;q=0.5", jsonType},
		{"text/plain;q=0.5, application/json", jsonType},
		{"application/json;q=0.9, text/*;q=0.1", jsonType},
		{"application/json;q=0.1, text/plain;q=0.5", textType},
	}
	for _, tc := range tests {
		t.Run(tc.accept, func(t *testing.T) {
			c, err := twoCodecs().ForResponse(tc.accept, "")
			wantNoErr(t, err)
			if got := c.MediaType(); got != tc.want {
				t.Errorf("ForResponse(%q) = %s, want %s", tc.accept, got, tc.want)
			}
		})
	}
}

func TestForRequest(t *testing.T) {
	tests := []struct {
		name        string
		contentType string
		want        string   // media type of the chosen codec; "" for an error
		mentions    []string // what the error message must name
	}{
		{"no Content-Type", "", jsonType, nil},
		{"blank Content-Type", "  ", jsonType, nil},
		{"exact JSON", "application/occi+json", jsonType, nil},
		{"JSON with charset", "application/occi+json; charset=utf-8", jsonType, nil},
		{"JSON with several parameters", "application/occi+json;charset=utf-8;version=1.2", jsonType, nil},
		{"media types are case-insensitive", "Application/OCCI+JSON", jsonType, nil},
		{"exact text", "text/plain", textType, nil},
		{"text with charset", "text/plain; charset=utf-8", textType, nil},
		{"application/json", "application/json", jsonType, nil},
		{"application/json with charset", "application/json; charset=UTF-8", jsonType, nil},
		{"unknown type", "application/xml", "", []string{`"application/xml"`, jsonType, textType}},
		{"unknown type with parameters", "text/html; charset=utf-8", "", []string{`"text/html"`, jsonType, textType}},
		{"form", "multipart/form-data; boundary=xyz", "", []string{`"multipart/form-data"`}},
		{"wildcard is not a body type", "*/*", "", []string{`"*/*"`}},
		{"no subtype", "application/", "", []string{`"application/"`, "cannot be parsed"}},
		{"no type", "/json", "", []string{`"/json"`, "cannot be parsed"}},
		{"parameter without value", "application/occi+json; charset", "", []string{"cannot be parsed"}},
		{"space in type", "application/occi json", "", []string{"cannot be parsed"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := twoCodecs().ForRequest(tc.contentType)
			if tc.want == "" {
				wantCode(t, err, occi.UnsupportedMediaType, tc.mentions...)
				if c != nil {
					t.Errorf("got codec %s along with the error", c.MediaType())
				}
				return
			}
			wantNoErr(t, err)
			if got := c.MediaType(); got != tc.want {
				t.Errorf("ForRequest(%q) = %s, want %s", tc.contentType, got, tc.want)
			}
		})
	}
}

// application/json is an alias of the JSON codec only: a set without it
// neither reads nor writes it.
func TestPlainJSONNeedsTheJSONCodec(t *testing.T) {
	s := renderers.NewSet(plainText{})
	_, err := s.ForRequest("application/json")
	wantCode(t, err, occi.UnsupportedMediaType, "application/json", textType)
	_, err = s.ForResponse("application/json", "")
	wantCode(t, err, occi.NotAcceptable, "application/json", textType)
	c, err := s.ForResponse("", "")
	wantNoErr(t, err)
	if c.MediaType() != textType {
		t.Errorf("ForResponse(\"\") = %s, want the set's default %s", c.MediaType(), textType)
	}
}
