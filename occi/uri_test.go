package occi_test

import (
	"net/url"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
)

// injection is the review's reproducer: a link target that, written raw
// inside <…> of a text rendering, would close the Link and add a line.
const injection = "http://x/>; rel=\"r\"\nX-OCCI-Attribute: occi.compute.state=\"error\"\nLink: <http://y"

func TestCheckURI(t *testing.T) {
	valid := []string{
		"/", "/compute/vm1", "/compute/vm-1_a.b~c", "/a/b/c/", "/a%20b", "/a;b=c,d", "/a:b@c!$&'()*+",
		"http://x", "http://x/", "http://peer/compute/vm1", "https://peer:8443/network/lan",
		"HTTP://Peer.Example.COM/a", "http://127.0.0.1:8090/compute/a", "http://[::1]:8090/a", "http://[fe80::1%25eth0]/a",
		"/" + strings.Repeat("a", occi.MaxURILength-1),
	}
	for _, s := range valid {
		if err := occi.CheckURI(s); err != nil {
			t.Errorf("CheckURI(%q) = %v, want nil", s, err)
		}
	}
	invalid := []struct{ in, why string }{
		{"", "empty"},
		{injection, `holds '>' at byte 9`},
		{"http://", "has no host"},
		{"https://:443/a", "has no host"},
		{"http:/x", `has no "//" and host`},
		{"http:x", `has no "//" and host`},
		{"compute/vm1", "is relative"},
		{"vm1", "is relative"},
		{"//peer/compute/vm1", `starts with "//"`},
		{"ftp://peer/a", `the scheme "ftp"`},
		{"file:///etc/hostname", `the scheme "file"`},
		{"javascript:alert(1)", `the scheme "javascript"`},
		{"http://user:pw@peer/a", "user information"},
		{"http://peer@evil/a", "user information"},
		{"/a b", "a space at byte 2"},
		{"/a\tb", `the control character '\t'`},
		{"/a\r\nb", `the control character '\r' at byte 2`},
		{"/a\x00", `the control character '\x00'`},
		{"/a\x7f", `the control character '\x7f'`},
		{`/a"b`, `holds '"'`},
		{`/a<b`, `holds '<'`},
		{`/a\b`, `holds '\\'`},
		{"/a{b}", `holds '{'`},
		{"/a|b", `holds '|'`},
		{"/a^b", `holds '^'`},
		{"/a`b", "holds '`'"},
		{"/é", "not ASCII"},
		{"/a%2", "'%' at byte 2"},
		{"/a%zz", "'%' at byte 2"},
		{"/compute/a?action=stop", "a query or a fragment"},
		{"http://peer/a#top", "a query or a fragment"},
		{"/compute/../-/", `the segment ".."`},
		{"/compute/./a", `the segment "."`},
		{"http://peer/a/%2e%2E/b", `the segment "%2e%2E"`},
		{"/a[1]", "only around an IPv6 host"},
		{"http://peer:0/a", `the port "0"`},
		{"http://peer:65536/a", `the port "65536"`},
		{"http://peer:/a", `the port ""`},
		{"http://a:b:c/", "is not a URI"},
		{"http://[1.2.3.4]/", "is not a URI"},
		{"http://[::1/", "is not a URI"},
		{"/" + strings.Repeat("a", occi.MaxURILength), "bytes long"},
	}
	for _, tc := range invalid {
		err := occi.CheckURI(tc.in)
		if err == nil {
			t.Errorf("CheckURI(%q) = nil, want an error saying %q", tc.in, tc.why)
			continue
		}
		if occi.CodeOf(err) != occi.InvalidArgument {
			t.Errorf("CheckURI(%q): code %v, want InvalidArgument", tc.in, occi.CodeOf(err))
		}
		if !strings.Contains(err.Error(), tc.why) {
			t.Errorf("CheckURI(%q) = %q, want it to say %q", tc.in, err, tc.why)
		}
		// The value is quoted, shortly: a message stays one line.
		if strings.ContainsAny(err.Error(), "\r\n") || len(err.Error()) > 400 {
			t.Errorf("CheckURI(%q): the message is not one short line: %q", tc.in, err)
		}
	}
}

// FuzzCheckURI: what CheckURI accepts is a location every rendering can
// write raw, and parses as one; it never panics, and refuses with
// InvalidArgument.
func FuzzCheckURI(f *testing.F) {
	for _, s := range []string{"/compute/vm1", "http://peer:8090/a", "http://[::1]/a", injection, "http://", "/a%2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		err := occi.CheckURI(s)
		if err != nil {
			if occi.CodeOf(err) != occi.InvalidArgument {
				t.Fatalf("CheckURI(%q): code %v", s, occi.CodeOf(err))
			}
			if strings.ContainsAny(err.Error(), "\r\n") {
				t.Fatalf("CheckURI(%q): the message breaks a line: %q", s, err)
			}
			return
		}
		if i := strings.IndexFunc(s, func(r rune) bool { return r <= ' ' || r >= 0x7f || strings.ContainsRune("<>\"\\{}|^`", r) }); i >= 0 {
			t.Fatalf("CheckURI(%q) accepted %q at byte %d", s, s[i], i)
		}
		if len(s) > occi.MaxURILength || strings.ContainsAny(s, "?#") {
			t.Fatalf("CheckURI(%q) accepted a long value, a query or a fragment", s)
		}
		u, err := url.Parse(s)
		if err != nil {
			t.Fatalf("CheckURI(%q) accepted what url.Parse refuses: %v", s, err)
		}
		switch {
		case strings.HasPrefix(s, "/"):
			if u.Scheme != "" || u.Host != "" || strings.HasPrefix(s, "//") {
				t.Fatalf("CheckURI(%q): a path that parses as %#v", s, u)
			}
		case u.Scheme != "http" && u.Scheme != "https", u.Hostname() == "", u.User != nil:
			t.Fatalf("CheckURI(%q): a URL that parses as %#v", s, u)
		}
		for _, seg := range strings.Split(u.Path, "/") {
			if seg == "." || seg == ".." {
				t.Fatalf("CheckURI(%q) accepted a dot segment", s)
			}
		}
	})
}
