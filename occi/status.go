package occi

import "net/http"

// httpStatus is the one table from error codes to HTTP statuses: the server
// answers with it, and clients read answers back with it.
var httpStatus = map[Code]int{
	Internal:             http.StatusInternalServerError,
	InvalidArgument:      http.StatusBadRequest,
	NotFound:             http.StatusNotFound,
	AlreadyExists:        http.StatusConflict,
	Conflict:             http.StatusConflict,
	FailedPrecondition:   http.StatusConflict,
	Forbidden:            http.StatusForbidden,
	Unimplemented:        http.StatusNotImplemented,
	Unavailable:          http.StatusServiceUnavailable,
	Unauthenticated:      http.StatusUnauthorized,
	MethodNotAllowed:     http.StatusMethodNotAllowed,
	NotAcceptable:        http.StatusNotAcceptable,
	UnsupportedMediaType: http.StatusUnsupportedMediaType,
	TooLarge:             http.StatusRequestEntityTooLarge,
	Timeout:              http.StatusGatewayTimeout,
}

// HTTPStatus returns the HTTP status an error code is answered with.
func HTTPStatus(c Code) int {
	if s, ok := httpStatus[c]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// CodeOfStatus returns the code an HTTP status stands for when nothing says
// more: the code the table maps to it (Conflict for 409, which three codes
// share), NotFound for 410, Unavailable for 502, another 4xx
// InvalidArgument, and Internal otherwise.
func CodeOfStatus(status int) Code {
	switch status {
	case http.StatusConflict:
		return Conflict
	case http.StatusGone:
		return NotFound
	case http.StatusBadGateway:
		return Unavailable
	}
	for c := range numCodes {
		if httpStatus[c] == status {
			return c
		}
	}
	if status >= 400 && status < 500 {
		return InvalidArgument
	}
	return Internal
}
