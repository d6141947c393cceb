package server

import (
	"fmt"
	"net/http"
	"time"

	"github.com/ocni/ocni/occi"
)

// statusOf is the HTTP status of an error code: occi's one table.
func statusOf(c occi.Code) int { return occi.HTTPStatus(c) }

// codeOfStatus maps statuses that echo itself produces (routing, body
// limits) back to codes, so that they are rendered like every other error.
func codeOfStatus(status int) occi.Code { return occi.CodeOfStatus(status) }

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
