package occi

import (
	"errors"
	"fmt"
	"strconv"
)

// Code classifies an error. The set is closed: the HTTP layer maps each code
// to exactly one status in a single table, so adding a code means adding a
// row there too.
type Code uint8

// The error codes. The comment names the HTTP status the server maps each to.
const (
	Internal             Code = iota // 500: a bug or an unexpected failure
	InvalidArgument                  // 400: the request is malformed or breaks a model rule
	NotFound                         // 404: no such category, entity or location
	AlreadyExists                    // 409: the identifier or location is taken
	Conflict                         // 409: the request contradicts the current state
	FailedPrecondition               // 409: the operation needs a state the target is not in
	Forbidden                        // 403: the target may not be changed (built-ins, immutable attributes)
	Unimplemented                    // 501: not supported by this server or backend
	Unavailable                      // 503: a backend or the store cannot answer now
	Unauthenticated                  // 401: credentials are missing or wrong
	MethodNotAllowed                 // 405: the method makes no sense on this target
	NotAcceptable                    // 406: no rendering the client accepts
	UnsupportedMediaType             // 415: the request body's media type is not understood
	TooLarge                         // 413: the body or the requested page is too large
	Timeout                          // 504: the VIM did not finish in time; the entity is as it was left
	numCodes
)

var codeNames = [numCodes]string{
	Internal:             "Internal",
	InvalidArgument:      "InvalidArgument",
	NotFound:             "NotFound",
	AlreadyExists:        "AlreadyExists",
	Conflict:             "Conflict",
	FailedPrecondition:   "FailedPrecondition",
	Forbidden:            "Forbidden",
	Unimplemented:        "Unimplemented",
	Unavailable:          "Unavailable",
	Unauthenticated:      "Unauthenticated",
	MethodNotAllowed:     "MethodNotAllowed",
	NotAcceptable:        "NotAcceptable",
	UnsupportedMediaType: "UnsupportedMediaType",
	TooLarge:             "TooLarge",
	Timeout:              "Timeout",
}

// Codes lists every code, for tables that must cover them all.
func Codes() []Code {
	cs := make([]Code, numCodes)
	for i := range cs {
		cs[i] = Code(i)
	}
	return cs
}

func (c Code) String() string {
	if c < numCodes {
		return codeNames[c]
	}
	return fmt.Sprintf("Code(%d)", uint8(c))
}

// Error is an error with a code. Messages are written for the client: they
// say what is wrong and where (a field path, an attribute name, a category).
type Error struct {
	Code    Code
	Message string
	// Err is the underlying cause, if any; it is never shown to clients of
	// an Internal error, only logged.
	Err error
}

// Errorf returns an *Error with the given code and a formatted message. A %w
// verb in the format wraps the cause as with fmt.Errorf.
func Errorf(code Code, format string, args ...any) *Error {
	wrapped := fmt.Errorf(format, args...)
	e := &Error{Code: code, Message: wrapped.Error()}
	// fmt.Errorf wraps one cause per %w: one is the cause, several are
	// joined so that errors.Is and errors.As reach every one of them.
	switch w := wrapped.(type) { //nolint:errorlint // inspects fmt.Errorf's own result, not a chain
	case interface{ Unwrap() error }:
		e.Err = w.Unwrap()
	case interface{ Unwrap() []error }:
		e.Err = errors.Join(w.Unwrap()...)
	}
	return e
}

func (e *Error) Error() string {
	if e.Message == "" {
		return e.Code.String()
	}
	return e.Message
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes errors.Is(err, occi.ErrNotFound) and friends match any *Error with
// the same code: the sentinels below carry no message.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Message == "" && t.Err == nil && t.Code == e.Code
}

// Sentinels for errors.Is.
var (
	ErrInvalidArgument    = &Error{Code: InvalidArgument}
	ErrNotFound           = &Error{Code: NotFound}
	ErrAlreadyExists      = &Error{Code: AlreadyExists}
	ErrConflict           = &Error{Code: Conflict}
	ErrFailedPrecondition = &Error{Code: FailedPrecondition}
	ErrForbidden          = &Error{Code: Forbidden}
	ErrUnimplemented      = &Error{Code: Unimplemented}
	ErrUnavailable        = &Error{Code: Unavailable}
	ErrTimeout            = &Error{Code: Timeout}
)

// CodeOf returns the code of the first *Error in err's chain, or Internal
// when there is none: an error nobody classified is a bug until proven
// otherwise.
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return Internal
}

// Prefix returns err with its message prefixed by where, keeping its code:
// used to say which item of a batch or which field a nested error is about.
func Prefix(where string, err error) error {
	if err == nil {
		return nil
	}
	var e *Error
	if errors.As(err, &e) {
		return &Error{Code: e.Code, Message: where + ": " + e.Error(), Err: e.Err}
	}
	return fmt.Errorf("%s: %w", where, err)
}

// ShortQuote quotes a value a client sent, for a message, cut to a
// readable length (never inside a UTF-8 sequence).
func ShortQuote(s string) string {
	const limit = 80
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	n := limit
	for n > 0 && s[n]&0xc0 == 0x80 {
		n--
	}
	return strconv.Quote(s[:n]) + "…"
}
