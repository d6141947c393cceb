package occi

import (
	"errors"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
)

// MaxURILength bounds a location a client sends. An entity's location is a
// kind's path and an id of at most 128 characters; a remote endpoint's URL
// has no reason to be much longer, and a longer one would crowd the 8 KiB
// header line a text/occi Link field may take.
const MaxURILength = 2048

// CheckURI checks a location a client sends (a link end, an item of a
// mixin association or of a uri-list): an absolute path ("/compute/vm1")
// or an absolute http or https URL with a host ("http://peer/compute/vm1").
// The value is parsed, not copied: the renderings write locations raw
// inside <…> and in header fields, so a character RFC 3986 does not allow
// (a control character, a space, '<', '>', '"', '\', '{', '}', '|', '^',
// '`', anything not ASCII) is refused rather than carried. A location names
// one entity, so it has no query, no fragment, no user information and no
// "." or ".." segment.
func CheckURI(s string) error {
	if s == "" {
		return Errorf(InvalidArgument, "the location is empty: give an absolute path (/kind/id) or an http or https URL")
	}
	if len(s) > MaxURILength {
		return Errorf(InvalidArgument, "location %s is %d bytes long; at most %d are allowed", ShortQuote(s), len(s), MaxURILength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !uriChar(c) {
			return Errorf(InvalidArgument, "location %s holds %s at byte %d, which a URI cannot hold (RFC 3986: percent-encode it)", ShortQuote(s), uriCharName(c), i)
		}
		if s[i] == '%' && (i+2 >= len(s) || !isHexDigit(s[i+1]) || !isHexDigit(s[i+2])) {
			return Errorf(InvalidArgument, "location %s holds a '%%' at byte %d that is not followed by two hexadecimal digits", ShortQuote(s), i)
		}
	}
	if i := strings.IndexAny(s, "?#"); i >= 0 {
		return Errorf(InvalidArgument, "location %s has a query or a fragment (from %q at byte %d); a location names an entity and has neither", ShortQuote(s), s[i], i)
	}
	if s[0] == '/' {
		if strings.HasPrefix(s, "//") {
			return Errorf(InvalidArgument, "location %s starts with \"//\", which names a host without a scheme; give a path with one '/' or an http or https URL", ShortQuote(s))
		}
		return checkURIPath(s, s)
	}
	u, err := url.Parse(s)
	if err != nil {
		msg := err.Error()
		var ue *url.Error
		if errors.As(err, &ue) {
			msg = ue.Err.Error() // without the value, quoted shortly here
		}
		return Errorf(InvalidArgument, "location %s is not a URI: %s", ShortQuote(s), msg)
	}
	switch {
	case u.Scheme == "":
		return Errorf(InvalidArgument, "location %s is relative; give an absolute path (/kind/id) or an http or https URL", ShortQuote(s))
	case !strings.EqualFold(u.Scheme, "http") && !strings.EqualFold(u.Scheme, "https"):
		return Errorf(InvalidArgument, "location %s has the scheme %q; only http and https URLs (or absolute paths) are locations", ShortQuote(s), u.Scheme)
	case u.Opaque != "" || !strings.HasPrefix(s[len(u.Scheme)+1:], "//"):
		return Errorf(InvalidArgument, "location %s has no \"//\" and host after its scheme", ShortQuote(s))
	case u.User != nil:
		return Errorf(InvalidArgument, "location %s carries user information before '@'; credentials do not belong in a location", ShortQuote(s))
	case u.Hostname() == "":
		return Errorf(InvalidArgument, "location %s has no host", ShortQuote(s))
	}
	if p := u.Port(); p != "" || strings.HasSuffix(u.Host, ":") {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return Errorf(InvalidArgument, "location %s: the port %q is not a number from 1 to 65535", ShortQuote(s), p)
		}
	}
	if h := u.Hostname(); strings.HasPrefix(u.Host, "[") {
		// An IP literal: url.Parse finds the brackets, not what is inside.
		if a, err := netip.ParseAddr(h); err != nil || !a.Is6() {
			return Errorf(InvalidArgument, "location %s: %q between '[' and ']' is not an IPv6 address", ShortQuote(s), h)
		}
	} else if strings.ContainsAny(h, "[]") {
		return Errorf(InvalidArgument, "location %s: the host %q holds a bracket outside an IPv6 address", ShortQuote(s), h)
	}
	return checkURIPath(s, u.EscapedPath())
}

// checkURIPath checks the path of location s: RFC 3986 path characters
// only, and no dot segment (it would give one entity two spellings).
func checkURIPath(s, path string) error {
	if i := strings.IndexAny(path, "[]"); i >= 0 {
		return Errorf(InvalidArgument, "location %s holds %q in its path, which RFC 3986 allows only around an IPv6 host", ShortQuote(s), path[i])
	}
	for _, seg := range strings.Split(path, "/") {
		if seg == "." || seg == ".." || strings.EqualFold(seg, "%2e") || strings.EqualFold(seg, ".%2e") || strings.EqualFold(seg, "%2e.") || strings.EqualFold(seg, "%2e%2e") {
			return Errorf(InvalidArgument, "location %s holds the segment %q; a location is written without dot segments", ShortQuote(s), seg)
		}
	}
	return nil
}

// uriChar reports whether c may appear in a URI: RFC 3986's unreserved,
// reserved and '%' characters.
func uriChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

func isHexDigit(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// uriCharName names a byte for a message: control characters and spaces
// are invisible when quoted as they are.
func uriCharName(c byte) string {
	switch {
	case c == ' ':
		return "a space"
	case c < 0x20 || c == 0x7f:
		return "the control character " + strconv.QuoteRune(rune(c))
	case c >= 0x80:
		return "a byte that is not ASCII"
	}
	return strconv.QuoteRune(rune(c))
}
