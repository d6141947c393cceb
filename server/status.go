package server

import (
	"net/http"

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
