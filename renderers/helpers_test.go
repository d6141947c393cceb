package renderers_test

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// wantCode fails the test unless err is an *occi.Error with the given code
// whose message contains every one of subs.
func wantCode(t testing.TB, err error, code occi.Code, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v mentioning %q", code, subs)
	}
	var e *occi.Error
	if !errors.As(err, &e) {
		t.Errorf("error %q (%T) is not an *occi.Error; want code %v", err, err, code)
	} else if got := occi.CodeOf(err); got != code {
		t.Errorf("error %q has code %v, want %v", err, got, code)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// wantNoErr fails the test now if err is not nil.
func wantNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v (code %v)", err, occi.CodeOf(err))
	}
}

// decode runs the JSON codec's Decode on body.
func decode(body string, v any) error {
	return renderers.JSON{}.Decode(http.Header{}, []byte(body), v)
}

// encode runs the JSON codec's Encode on v and returns what it wrote and the
// header it set.
func encode(v any) (string, http.Header, error) {
	var b strings.Builder
	h := http.Header{}
	err := renderers.JSON{}.Encode(h, &b, v)
	return b.String(), h, err
}

// rocciVector reads one of the rOCCI-core renderings kept with the schemas.
func rocciVector(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "schemas", "testdata", "rocci-core", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustJSON marshals v for comparisons and failure messages.
func mustJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatalf("marshalling %T: %v", v, err)
	}
	return string(b)
}

// wantJSON fails the test unless got and want are the same JSON value,
// whatever their layout and member order.
func wantJSON(t testing.TB, got, want string) {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, got)
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("expected value is not JSON: %v\n%s", err, want)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got  %s\nwant %s", strings.TrimSpace(got), want)
	}
}
