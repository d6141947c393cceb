package occi

import (
	"net/http"
	"testing"
)

// Every code has its own entry in the status table, and every status the
// table uses reads back to a code answered with that status.
func TestHTTPStatusTable(t *testing.T) {
	for _, c := range Codes() {
		if _, ok := httpStatus[c]; !ok {
			t.Errorf("code %s has no HTTP status", c)
		}
		if got := HTTPStatus(CodeOfStatus(HTTPStatus(c))); got != HTTPStatus(c) {
			t.Errorf("code %s: status %d reads back as a code answered %d", c, HTTPStatus(c), got)
		}
	}
	for status, want := range map[int]Code{
		http.StatusConflict: Conflict, http.StatusGone: NotFound, http.StatusBadGateway: Unavailable,
		http.StatusTeapot: InvalidArgument, 599: Internal,
	} {
		if got := CodeOfStatus(status); got != want {
			t.Errorf("CodeOfStatus(%d) = %s, want %s", status, got, want)
		}
	}
}
