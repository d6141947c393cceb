package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ocni/ocni/occi"
)

// statusOf is the one table from error codes to HTTP statuses.
var statusOf = map[occi.Code]int{
	occi.Internal:             http.StatusInternalServerError,
	occi.InvalidArgument:      http.StatusBadRequest,
	occi.NotFound:             http.StatusNotFound,
	occi.AlreadyExists:        http.StatusConflict,
	occi.Conflict:             http.StatusConflict,
	occi.FailedPrecondition:   http.StatusConflict,
	occi.Forbidden:            http.StatusForbidden,
	occi.Unimplemented:        http.StatusNotImplemented,
	occi.Unavailable:          http.StatusServiceUnavailable,
	occi.Unauthenticated:      http.StatusUnauthorized,
	occi.MethodNotAllowed:     http.StatusMethodNotAllowed,
	occi.NotAcceptable:        http.StatusNotAcceptable,
	occi.UnsupportedMediaType: http.StatusUnsupportedMediaType,
	occi.TooLarge:             http.StatusRequestEntityTooLarge,
	occi.Timeout:              http.StatusGatewayTimeout,
}

// codeOfStatus maps statuses that echo itself produces (routing, body
// limits) back to codes, so that they are rendered like every other error.
func codeOfStatus(status int) occi.Code {
	switch status {
	case http.StatusNotFound:
		return occi.NotFound
	case http.StatusMethodNotAllowed:
		return occi.MethodNotAllowed
	case http.StatusRequestEntityTooLarge:
		return occi.TooLarge
	case http.StatusUnsupportedMediaType:
		return occi.UnsupportedMediaType
	case http.StatusUnauthorized:
		return occi.Unauthenticated
	case http.StatusForbidden:
		return occi.Forbidden
	case http.StatusServiceUnavailable:
		return occi.Unavailable
	}
	if status >= 400 && status < 500 {
		return occi.InvalidArgument
	}
	return occi.Internal
}

// connectionError is an answer about the connection rather than the model,
// which only the HTTP layer gives: no occi code describes it, so it carries
// its status and the name rendered as the problem's code.
type connectionError struct {
	status int
	name   string
	msg    string
}

func (e *connectionError) Error() string { return e.msg }

// misdirected answers a Host header this server does not serve (a DNS
// rebinding page's, or a client that dialled the wrong server).
func misdirected(host string) error {
	return &connectionError{
		status: http.StatusMisdirectedRequest, name: "MisdirectedRequest",
		msg: fmt.Sprintf("this server does not answer for the host %.100q; allowed_hosts lists the names it answers for", host),
	}
}

// bodyTimedOut answers a body that did not arrive within the body timeout.
func bodyTimedOut(limit time.Duration) error {
	return &connectionError{
		status: http.StatusRequestTimeout, name: "RequestTimeout",
		msg: fmt.Sprintf("the request body was not received within %s (timeouts.body)", limit),
	}
}
