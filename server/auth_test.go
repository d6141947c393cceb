package server

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Credentials of the test users: alice is an admin, bob a user; the tokens
// are one of each role.
const (
	alicePassword = "alice-secret"
	bobPassword   = "bob-secret"
	adminToken    = "admin-token-0123456789"
	userToken     = "user-token-9876543210"
)

func hashPassword(t testing.TB, pw string) string {
	t.Helper()
	h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	return string(h)
}

func tokenLine(tok, role, name string) string {
	sum := sha256.Sum256([]byte(tok))
	return hex.EncodeToString(sum[:]) + " " + role + " " + name + "\n"
}

func testAuth(t testing.TB) *FileAuth {
	t.Helper()
	// alice's entry is written the way `htpasswd -B` writes it ($2y$).
	alice := strings.Replace(hashPassword(t, alicePassword), "$2a$", "$2y$", 1)
	users := "# test users\nalice:" + alice + "\n\nbob:" + hashPassword(t, bobPassword) + "\n"
	tokens := "# sha256 role name\n" + tokenLine(adminToken, "admin", "ci") + tokenLine(userToken, "user", "robot")
	a, err := NewFileAuth("users", strings.NewReader(users), []string{"alice"}, "tokens", strings.NewReader(tokens))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// withAuth rebuilds the fixture's server with an authenticator.
func withAuth(f *fixture, a Authenticator) {
	f.srv = New(Config{Engine: f.eng, BodyLimit: 64 << 10, Logger: f.srv.log, Auth: a})
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

var (
	asAlice = map[string]string{"Authorization": basic("alice", alicePassword)}
	asBob   = map[string]string{"Authorization": basic("bob", bobPassword)}
)

// Each kind of request, by role: no credentials is a 401 everywhere, a
// user may do everything but change the query interface or delete
// everything at once, an admin may do all.
func TestAuthRoles(t *testing.T) {
	a := testAuth(t)
	computeBody := `{"kind":"` + computeID + `"}`
	setup := []req{
		{method: "POST", path: "/-/", body: goldBody},
		{method: "PUT", path: "/compute/vm1", body: computeBody},
	}
	tests := []struct {
		name              string
		req               req
		none, user, admin int
	}{
		{"read the query interface", req{method: "GET", path: "/-/"}, 401, 200, 200},
		{"head the query interface", req{method: "HEAD", path: "/-/"}, 401, 200, 200},
		{"add a category", req{method: "POST", path: "/-/", body: strings.ReplaceAll(goldBody, "gold", "silver")}, 401, 403, 200},
		{"add a category (well-known)", req{method: "POST", path: wellKnownQuery, body: strings.ReplaceAll(goldBody, "gold", "silver")}, 401, 403, 200},
		{"replace a category", req{method: "PUT", path: "/-/", body: strings.Replace(goldBody, "Gold tier", "Gold", 1)}, 401, 403, 200},
		{"bind a kind", req{method: "PUT", path: "/-/", body: `{"providers":[{"kind":"` + computeID + `","provider":"lab"}]}`}, 401, 403, 200},
		{"remove a category", req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi/tags#gold")}, 401, 403, 200},
		{"list a collection", req{method: "GET", path: "/compute/"}, 401, 200, 200},
		{"read an entity", req{method: "GET", path: "/compute/vm1"}, 401, 200, 200},
		{"create in a collection", req{method: "POST", path: "/compute/", body: computeBody}, 401, 201, 201},
		{"create at a path", req{method: "PUT", path: "/compute/vm2", body: computeBody}, 401, 201, 201},
		{"update an entity", req{method: "POST", path: "/compute/vm1", body: `{"attributes":{"occi.core.title":"t"}}`}, 401, 200, 200},
		{"act on an entity", req{method: "POST", path: "/compute/vm1?action=stop"}, 401, 200, 200},
		{"act on a collection", req{method: "POST", path: "/compute/?action=stop"}, 401, 200, 200},
		{"tag with a mixin", req{method: "POST", path: "/tags/gold/", body: `{"locations":["/compute/vm1"]}`}, 401, 200, 200},
		{"delete an entity", req{method: "DELETE", path: "/compute/vm1"}, 401, 204, 204},
		{"delete a collection", req{method: "DELETE", path: "/compute/"}, 401, 200, 200},
		{"delete everything", req{method: "DELETE", path: "/"}, 401, 403, 200},
		{"delete everything, spelt //", req{method: "DELETE", path: "//"}, 401, 403, 0},
	}
	for _, tt := range tests {
		for _, who := range []struct {
			name   string
			header map[string]string
			want   int
		}{{"nobody", nil, tt.none}, {"user", asBob, tt.user}, {"admin", asAlice, tt.admin}} {
			if who.want == 0 {
				continue
			}
			t.Run(tt.name+"/"+who.name, func(t *testing.T) {
				f := newFixture(t)
				withAuth(f, a)
				for _, s := range setup {
					s.header = asAlice
					if rec := f.do(s); rec.Code/100 != 2 {
						t.Fatalf("setup %s %s: %d %s", s.method, s.path, rec.Code, rec.Body)
					}
				}
				r := tt.req
				r.header = who.header
				rec := f.do(r)
				if rec.Code != who.want {
					t.Fatalf("status %d, want %d: %s", rec.Code, who.want, rec.Body)
				}
				switch rec.Code {
				case 401:
					if got := rec.Header().Get("WWW-Authenticate"); got != `Basic realm="ocni", Bearer` {
						t.Errorf("WWW-Authenticate %q", got)
					}
					if r.method != "HEAD" {
						if code, _ := problem(t, rec); code != "Unauthenticated" {
							t.Errorf("code %s", code)
						}
					}
				case 403:
					if code, msg := problem(t, rec); code != "Forbidden" || !strings.Contains(msg, "admin role") || !strings.Contains(msg, "bob") {
						t.Errorf("403: %s %q", code, msg)
					}
				}
			})
		}
	}
}

// A refused change changes nothing, and the log line names who asked.
func TestAuthRefusalChangesNothing(t *testing.T) {
	f := newFixture(t)
	withAuth(f, testAuth(t))
	if rec := f.do(req{method: "POST", path: "/-/", body: goldBody, header: asBob}); rec.Code != 403 {
		t.Fatalf("user POST /-/: %d", rec.Code)
	}
	if rec := f.do(req{method: "POST", path: "/-/", body: goldBody}); rec.Code != 401 {
		t.Fatalf("anonymous POST /-/: %d", rec.Code)
	}
	rec := f.do(req{method: "GET", path: "/-/", header: asBob})
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "tags#") {
		t.Errorf("the refused category was registered: %d", rec.Code)
	}
	if !strings.Contains(f.logs.String(), `"user":"bob"`) {
		t.Errorf("the log does not name the user:\n%s", f.logs)
	}
}

func TestAuthCredentials(t *testing.T) {
	f := newFixture(t)
	withAuth(f, testAuth(t))
	addGold := func(header map[string]string) *httptest.ResponseRecorder {
		return f.do(req{method: "POST", path: "/-/", body: goldBody, header: header})
	}
	tests := []struct {
		name   string
		header map[string]string
		status int
		want   string
	}{
		{"admin by Basic", asAlice, 200, ""},
		{"user by Basic", asBob, 403, "admin role"},
		{"admin by bearer token", map[string]string{"Authorization": "Bearer " + adminToken}, 200, ""},
		{"user by bearer token", map[string]string{"Authorization": "Bearer " + userToken}, 403, "robot"},
		{"scheme in another case", map[string]string{"Authorization": "bearer " + adminToken}, 200, ""},
		{"wrong password", map[string]string{"Authorization": basic("alice", "guess")}, 401, "wrong user name or password"},
		{"unknown user", map[string]string{"Authorization": basic("mallory", alicePassword)}, 401, "wrong user name or password"},
		{"empty password", map[string]string{"Authorization": basic("alice", "")}, 401, "wrong user name or password"},
		{"unknown token", map[string]string{"Authorization": "Bearer nope"}, 401, "unknown bearer token"},
		{"token as a password", map[string]string{"Authorization": basic("ci", adminToken)}, 401, "wrong user name or password"},
		{"no base64", map[string]string{"Authorization": "Basic !!!"}, 401, "not base64"},
		{"no colon", map[string]string{"Authorization": "Basic " + base64.StdEncoding.EncodeToString([]byte("alice"))}, 401, "name:password"},
		{"empty token", map[string]string{"Authorization": "Bearer "}, 401, "empty"},
		{"other scheme", map[string]string{"Authorization": `Digest username="alice"`}, 401, "Digest"},
		{"scheme only", map[string]string{"Authorization": "Basic"}, 401, "malformed"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := addGold(tt.header)
			if rec.Code == 200 {
				// Undo, so that the next admin case adds it again.
				f.do(req{method: "DELETE", path: "/-/?category=" + escape("http://example.com/occi/tags#gold"), header: asAlice})
			}
			if rec.Code != tt.status {
				t.Fatalf("status %d, want %d: %s", rec.Code, tt.status, rec.Body)
			}
			if tt.want != "" {
				if _, msg := problem(t, rec); !strings.Contains(msg, tt.want) {
					t.Errorf("message %q, want it to contain %q", msg, tt.want)
				}
			}
			if rec.Code == 401 && rec.Header().Get("WWW-Authenticate") == "" {
				t.Error("a 401 without WWW-Authenticate")
			}
		})
	}

	// Two Authorization fields are one too many.
	hr := httptest.NewRequest("GET", "/-/", nil)
	hr.Header.Add("Authorization", asAlice["Authorization"])
	hr.Header.Add("Authorization", asBob["Authorization"])
	rec := httptest.NewRecorder()
	f.srv.ServeHTTP(rec, hr)
	if _, msg := problem(t, rec); rec.Code != 401 || !strings.Contains(msg, "2 times") {
		t.Errorf("two Authorization fields: %d %q", rec.Code, msg)
	}
}

// The principal reaches the handlers through the request's context, for
// what comes next (tenancy).
func TestPrincipalInContext(t *testing.T) {
	f := newFixture(t)
	withAuth(f, testAuth(t))
	var got Principal
	f.srv.echo.GET("/whoami", f.srv.wrap(func(r *request) (*reply, error) {
		got, _ = PrincipalFrom(r.Request().Context())
		return &reply{status: http.StatusNoContent}, nil
	}))
	if rec := f.do(req{method: "GET", path: "/whoami", header: asBob}); rec.Code != 204 {
		t.Fatalf("status %d", rec.Code)
	}
	if got != (Principal{Name: "bob", Role: RoleUser}) {
		t.Errorf("principal %+v", got)
	}
}

// A password bcrypt accepted once is not checked with bcrypt again, and a
// wrong one is never remembered.
func TestAuthRemembersVerifiedPasswords(t *testing.T) {
	a := testAuth(t)
	r := httptest.NewRequest("GET", "/-/", nil)
	r.Header.Set("Authorization", basic("bob", "wrong"))
	if _, err := a.Authenticate(r); err == nil {
		t.Fatal("wrong password accepted")
	}
	if len(a.verified) != 0 {
		t.Fatalf("a wrong password was remembered")
	}
	r.Header.Set("Authorization", asBob["Authorization"])
	for range 2 {
		if p, err := a.Authenticate(r); err != nil || p.Role != RoleUser {
			t.Fatalf("bob: %+v %v", p, err)
		}
	}
	if len(a.verified) != 1 {
		t.Errorf("%d remembered credentials, want 1", len(a.verified))
	}
}

func TestFileAuthErrors(t *testing.T) {
	good := "bob:" + hashPassword(t, bobPassword) + "\n"
	tests := []struct {
		name, users, tokens string
		admins              []string
		want                string
	}{
		{name: "MD5 entry", users: "bob:$apr1$abc$def\n", want: "not bcrypt"},
		{name: "plain entry", users: "bob:secret\n", want: "not bcrypt"},
		{name: "no colon", users: "bob\n", want: "users:1: want name:hash"},
		{name: "twice", users: good + good, want: "listed twice"},
		{name: "admin not a user", users: good, admins: []string{"alice"}, want: "alice is not in the htpasswd file"},
		{name: "short token hash", users: good, tokens: "abcd admin ci\n", want: "not a SHA-256"},
		{name: "token role", tokens: tokenLine("x", "root", "ci"), want: `role "root"`},
		{name: "token fields", tokens: "abc admin\n", want: "want the token's sha256"},
		{name: "token twice", tokens: tokenLine("x", "user", "a") + tokenLine("x", "admin", "b"), want: "listed twice"},
		{name: "nobody", users: "# empty\n", want: "no user and no token"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := NewFileAuth("users", strings.NewReader(tt.users), tt.admins, "tokens", strings.NewReader(tt.tokens))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
	if _, err := LoadFileAuth(FileAuthConfig{Htpasswd: "/nonexistent/htpasswd"}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
	if _, err := LoadFileAuth(FileAuthConfig{}); err == nil {
		t.Error("no files accepted")
	}
	// Only tokens: the challenge names Bearer only.
	a, err := NewFileAuth("users", strings.NewReader(""), nil, "tokens", strings.NewReader(tokenLine("x", "user", "a")))
	if err != nil {
		t.Fatal(err)
	}
	if got := a.Challenge(); got != `Bearer realm="ocni"` {
		t.Errorf("challenge %q", got)
	}
}
