package client

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// Error is an error answer of the endpoint: its HTTP status, the occi code
// and message of its problem body, and where it came from.
type Error struct {
	Method string
	URL    string
	Status int
	// Code is the occi code the server named, or the one its status
	// implies when the name is not an occi code (an older server, a proxy).
	Code occi.Code
	// Name is the code as the server wrote it ("NotFound",
	// "MisdirectedRequest"); empty when the body named none.
	Name      string
	Message   string
	RequestID string
}

func (e *Error) Error() string {
	name := e.Name
	if name == "" {
		name = e.Code.String()
	}
	msg := e.Message
	if msg == "" {
		msg = http.StatusText(e.Status)
	}
	return fmt.Sprintf("%s %s: %d %s: %s", e.Method, e.URL, e.Status, name, msg)
}

// Is matches the occi sentinels (occi.ErrNotFound…) of the same code.
func (e *Error) Is(target error) bool {
	t, ok := target.(*occi.Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Unwrap exposes the answer as an *occi.Error, so that occi.CodeOf and
// errors.As(err, **occi.Error) see its code as they would on the server.
func (e *Error) Unwrap() error { return &occi.Error{Code: e.Code, Message: e.Message} }

// codeNames maps the names the server renders back to codes.
var codeNames = func() map[string]occi.Code {
	m := map[string]occi.Code{}
	for _, c := range occi.Codes() {
		m[c.String()] = c
	}
	return m
}()

// problemOf reads an error answer: the JSON problem object, or the one
// "Code: message" line of the text renderings.
func problemOf(method, url string, a *answer) *Error {
	e := &Error{Method: method, URL: url, Status: a.status, RequestID: a.header.Get("X-Request-Id")}
	mt, _, _ := mime.ParseMediaType(a.header.Get("Content-Type"))
	switch mt {
	case renderers.JSONMediaType, "application/json", "application/problem+json":
		var p renderers.Problem
		if json.Unmarshal(a.body, &p) == nil {
			e.Name, e.Message = p.Code, p.Message
			if p.RequestID != "" {
				e.RequestID = p.RequestID
			}
		}
	default:
		line, _, _ := strings.Cut(strings.TrimSpace(string(a.body)), "\n")
		line = strings.TrimSpace(line)
		// Only a leading word that is a code name is taken for one: a
		// proxy's text answer is a message, not "Code: message".
		if name, msg, ok := strings.Cut(line, ": "); ok && isCodeName(name) {
			e.Name, e.Message = name, msg
		} else {
			e.Message = line
		}
	}
	if c, ok := codeNames[e.Name]; ok {
		e.Code = c
	} else {
		e.Code = occi.CodeOfStatus(a.status)
	}
	return e
}

func isCodeName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if (r < 'A' || r > 'Z') && (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return s[0] >= 'A' && s[0] <= 'Z'
}
