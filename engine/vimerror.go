package engine

import (
	"regexp"

	"github.com/ocni/ocni/occi"
)

// VIMError is a provider's failure, with what the engine asked of it. The
// server shows its message even for a 5xx, where other internal errors are
// hidden: an operator needs the VIM's own words. Secrets are taken out
// first (Redact).
type VIMError struct {
	Provider string
	// What is what was asked, such as "create /compute/vm1".
	What string
	Err  error
}

func (e *VIMError) Error() string {
	return "provider " + e.Provider + ": " + e.What + ": " + e.Err.Error()
}

func (e *VIMError) Unwrap() error { return e.Err }

// vimError wraps a provider's failure, keeping its occi code.
func vimError(provider, what string, err error) error {
	if err == nil {
		return nil
	}
	return &occi.Error{Code: occi.CodeOf(err), Message: (&VIMError{Provider: provider, What: what, Err: err}).Error(),
		Err: &VIMError{Provider: provider, What: what, Err: err}}
}

var (
	// userinfo in a URL: scheme://user:password@host.
	urlCredentials = regexp.MustCompile(`([a-zA-Z][a-zA-Z0-9+.-]*://)[^/@\s]+@`)
	// key=value and key: value pairs whose key names a secret.
	secretPairs = regexp.MustCompile(`(?i)\b([a-z0-9_.-]*(?:password|passwd|secret|token|credential|api[_-]?key|access[_-]?key)[a-z0-9_.-]*)(["']?\s*[:=]\s*["']?)[^\s"',;&]+`)
)

// Redact removes what looks like a secret from a message: credentials in
// URLs and values of password, secret, token and key settings.
func Redact(msg string) string {
	msg = urlCredentials.ReplaceAllString(msg, "${1}***@")
	return secretPairs.ReplaceAllString(msg, "${1}${2}***")
}
