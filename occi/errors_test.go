package occi

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

func TestErrorf(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	tests := []struct {
		name      string
		code      Code
		format    string
		args      []any
		wantMsg   string
		wantCause error
	}{
		{"plain", InvalidArgument, "term is missing", nil, "term is missing", nil},
		{"formatted", NotFound, "no kind %q", []any{"x#y"}, `no kind "x#y"`, nil},
		{"error as %v is not wrapped", Internal, "store: %v", []any{cause}, "store: unexpected EOF", nil},
		{"error as %w is the cause", Unavailable, "store: %w", []any{cause}, "store: unexpected EOF", cause},
		{"%w among other verbs", Conflict, "%s at %d: %w", []any{"x", 3, cause}, "x at 3: unexpected EOF", cause},
		{"wrapped *Error is the cause", Internal, "backend: %w", []any{ErrNotFound}, "backend: NotFound", ErrNotFound},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := Errorf(tc.code, tc.format, tc.args...)
			if e.Code != tc.code {
				t.Errorf("Code = %v, want %v", e.Code, tc.code)
			}
			if e.Message != tc.wantMsg || e.Error() != tc.wantMsg {
				t.Errorf("Message = %q, Error() = %q, want %q", e.Message, e.Error(), tc.wantMsg)
			}
			if got := errors.Unwrap(e); got != tc.wantCause { //nolint:errorlint // identity of the direct cause is the point
				t.Errorf("Unwrap = %v, want %v", got, tc.wantCause)
			}
			if tc.wantCause != nil && !errors.Is(e, tc.wantCause) {
				t.Errorf("errors.Is(err, cause) = false")
			}
			if tc.wantCause == nil && errors.Is(e, cause) {
				t.Errorf("errors.Is(err, %v) = true for an error that does not wrap it", cause)
			}
			if got := CodeOf(e); got != tc.code {
				t.Errorf("CodeOf = %v, want %v", got, tc.code)
			}
		})
	}
}

// Errorf promises to wrap "as with fmt.Errorf", which accepts several %w.
func TestErrorfSeveralCauses(t *testing.T) {
	a, b := errors.New("first"), errors.New("second")
	e := Errorf(Unavailable, "%w; %w", a, b)
	if e.Message != "first; second" {
		t.Errorf("Message = %q", e.Message)
	}
	for _, cause := range []error{a, b} {
		if !errors.Is(e, cause) {
			t.Errorf("errors.Is(Errorf(\"%%w; %%w\", a, b), %v) = false: the cause is lost", cause)
		}
	}
}

func TestErrorEmptyMessage(t *testing.T) {
	for _, c := range Codes() {
		e := &Error{Code: c}
		if e.Error() != c.String() {
			t.Errorf("(&Error{Code: %v}).Error() = %q, want %q", c, e.Error(), c.String())
		}
	}
}

func TestErrorsIs(t *testing.T) {
	notFound := Errorf(NotFound, "no entity at %q", "/compute/x")
	tests := []struct {
		name   string
		err    error
		target error
		want   bool
	}{
		{"direct", notFound, ErrNotFound, true},
		{"literal with the code", &Error{Code: NotFound, Message: "gone"}, ErrNotFound, true},
		{"wrapped once", fmt.Errorf("get: %w", notFound), ErrNotFound, true},
		{"wrapped twice", fmt.Errorf("handler: %w", fmt.Errorf("get: %w", notFound)), ErrNotFound, true},
		{"prefixed", Prefix("links[0]", notFound), ErrNotFound, true},
		{"joined", errors.Join(io.EOF, notFound), ErrNotFound, true},
		{"NotFound wrapping another *Error", Errorf(NotFound, "x: %w", Errorf(Conflict, "y")), ErrConflict, true},
		{"other code", Errorf(InvalidArgument, "bad"), ErrNotFound, false},
		{"other code wrapped", fmt.Errorf("get: %w", Errorf(Conflict, "taken")), ErrNotFound, false},
		{"plain error", errors.New("not found"), ErrNotFound, false},
		{"nil", nil, ErrNotFound, false},
		{"target with a message is not a sentinel", notFound, &Error{Code: NotFound, Message: "other"}, false},
		{"target with a cause is not a sentinel", notFound, &Error{Code: NotFound, Err: io.EOF}, false},
		{"same pointer", notFound, notFound, true},
		{"forbidden", Errorf(Forbidden, "immutable"), ErrForbidden, true},
		{"forbidden is not invalid", Errorf(Forbidden, "immutable"), ErrInvalidArgument, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, tc.target); got != tc.want {
				t.Errorf("errors.Is(%v, %v) = %v, want %v", tc.err, tc.target, got, tc.want)
			}
		})
	}
}

func TestSentinels(t *testing.T) {
	sentinels := map[Code]*Error{
		InvalidArgument:    ErrInvalidArgument,
		NotFound:           ErrNotFound,
		AlreadyExists:      ErrAlreadyExists,
		Conflict:           ErrConflict,
		FailedPrecondition: ErrFailedPrecondition,
		Forbidden:          ErrForbidden,
		Unimplemented:      ErrUnimplemented,
		Unavailable:        ErrUnavailable,
	}
	for code, s := range sentinels {
		if s.Code != code || s.Message != "" || s.Err != nil {
			t.Errorf("sentinel for %v = %+v, want a bare code", code, s)
		}
		for _, c := range Codes() {
			err := fmt.Errorf("ctx: %w", Errorf(c, "something about %s", "x"))
			if got, want := errors.Is(err, s), c == code; got != want {
				t.Errorf("errors.Is(<%v error>, Err%v) = %v, want %v", c, code, got, want)
			}
		}
	}
}

func TestCodeOf(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want Code
	}{
		{"nil", nil, Internal},
		{"plain", errors.New("boom"), Internal},
		{"plain wrapped", fmt.Errorf("ctx: %w", io.EOF), Internal},
		{"*Error", Errorf(Conflict, "x"), Conflict},
		{"sentinel", ErrUnavailable, Unavailable},
		{"wrapped *Error", fmt.Errorf("ctx: %w", Errorf(TooLarge, "x")), TooLarge},
		{"outermost *Error wins", Errorf(Forbidden, "a: %w", Errorf(NotFound, "b")), Forbidden},
		{"joined", errors.Join(io.EOF, Errorf(NotAcceptable, "x")), NotAcceptable},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := CodeOf(tc.err); got != tc.want {
				t.Errorf("CodeOf(%v) = %v, want %v", tc.err, got, tc.want)
			}
		})
	}
}

func TestPrefix(t *testing.T) {
	cause := io.ErrUnexpectedEOF
	tests := []struct {
		name      string
		where     string
		err       error
		wantMsg   string
		wantCode  Code
		wantCause error
	}{
		{"*Error", "attribute x", Errorf(InvalidArgument, "value 1 is a number, want string"), "attribute x: value 1 is a number, want string", InvalidArgument, nil},
		{"*Error with a cause", "store", Errorf(Unavailable, "read: %w", cause), "store: read: unexpected EOF", Unavailable, cause},
		{"sentinel without message", "links[2]", ErrNotFound, "links[2]: NotFound", NotFound, nil},
		{"nested prefixes", "resources[0]", Prefix("attribute y", Errorf(Forbidden, "immutable")), "resources[0]: attribute y: immutable", Forbidden, nil},
		{"plain error", "backend", cause, "backend: unexpected EOF", Internal, cause},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := Prefix(tc.where, tc.err)
			if got == nil {
				t.Fatal("Prefix returned nil")
			}
			if !strings.HasPrefix(got.Error(), tc.where+": ") {
				t.Errorf("Error() = %q, want it to start with %q", got.Error(), tc.where+": ")
			}
			if got.Error() != tc.wantMsg {
				t.Errorf("Error() = %q, want %q", got.Error(), tc.wantMsg)
			}
			if c := CodeOf(got); c != tc.wantCode {
				t.Errorf("CodeOf = %v, want %v", c, tc.wantCode)
			}
			if tc.wantCause != nil && !errors.Is(got, tc.wantCause) {
				t.Errorf("errors.Is(prefixed, cause) = false")
			}
			if tc.wantCode != Internal && !errors.Is(got, &Error{Code: tc.wantCode}) {
				t.Errorf("prefixed error no longer matches the %v sentinel", tc.wantCode)
			}
		})
	}
	if Prefix("x", nil) != nil {
		t.Error("Prefix(x, nil) != nil")
	}
	// The original is not modified.
	orig := Errorf(NotFound, "gone")
	_ = Prefix("x", orig)
	if orig.Message != "gone" {
		t.Errorf("Prefix modified its argument: %q", orig.Message)
	}
}

func TestCodeNames(t *testing.T) {
	codes := Codes()
	if len(codes) != int(numCodes) {
		t.Fatalf("Codes() has %d codes, want %d", len(codes), numCodes)
	}
	seen := map[string]Code{}
	for i, c := range codes {
		if c != Code(i) {
			t.Errorf("Codes()[%d] = %d", i, c)
		}
		name := c.String()
		if name == "" || strings.HasPrefix(name, "Code(") {
			t.Errorf("code %d has no name: %q", uint8(c), name)
		}
		if prev, ok := seen[name]; ok {
			t.Errorf("codes %d and %d share the name %q", uint8(prev), uint8(c), name)
		}
		seen[name] = c
	}
	if got, want := numCodes.String(), fmt.Sprintf("Code(%d)", uint8(numCodes)); got != want {
		t.Errorf("out-of-range code String() = %q, want %q", got, want)
	}
	if got := Code(255).String(); got != "Code(255)" {
		t.Errorf("Code(255).String() = %q", got)
	}
}
