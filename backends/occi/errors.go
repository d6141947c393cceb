package occi

import (
	"context"
	"errors"
	"net/http"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/occi/client"
)

// remoteError gives a failed remote call its occi code for the engine. The
// remote's refusals (4xx) keep their code and message: the request was
// wrong there as it would be here. What says nothing about the request
// becomes Unavailable, which the engine treats as an outcome to reconcile:
// no answer (down, timed out, cancelled), an answer that cannot be read,
// the remote's own failures (5xx: the operation may have happened), and a
// refusal of the provider's credentials (an operator's matter, not the
// client's).
func (p *Provider) remoteError(op string, err error) error {
	var ce *client.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, context.DeadlineExceeded) {
			return occi.Errorf(occi.Unavailable, "occi provider %s: %s: the remote %s did not answer within %s: %w", p.name, op, p.endpoint, p.timeout, err)
		}
		if errors.Is(err, context.Canceled) {
			return occi.Errorf(occi.Unavailable, "occi provider %s: %s: cancelled before the remote %s answered: %w", p.name, op, p.endpoint, err)
		}
		return occi.Errorf(occi.Unavailable, "occi provider %s: %s: the remote %s cannot be reached: %w", p.name, op, p.endpoint, err)
	}
	code := ce.Code
	switch {
	case code == occi.Unauthenticated:
		return occi.Errorf(occi.Unavailable, "occi provider %s: %s: the remote %s refuses the provider's credentials (%d): %s", p.name, op, p.endpoint, ce.Status, remoteMessage(err))
	case code == occi.NotAcceptable || code == occi.UnsupportedMediaType || code == occi.MethodNotAllowed:
		// The remote does not speak what the provider asked: this
		// server cannot do it through that remote.
		code = occi.Unimplemented
	case ce.Status >= 500 && code != occi.Unimplemented:
		code = occi.Unavailable
	}
	return &occi.Error{Code: code, Err: err,
		Message: "occi provider " + p.name + ": " + op + ": the remote " + p.endpoint + " answered " + http.StatusText(ce.Status) + ": " + remoteMessage(err)}
}

// remoteMessage is what the remote said of a failure, or the failure
// itself when it said nothing.
func remoteMessage(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Message != "" {
		return ce.Message
	}
	return err.Error()
}
