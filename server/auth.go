package server

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"os"
	"path"
	"runtime"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"
	"golang.org/x/crypto/bcrypt"

	"github.com/ocni/ocni/occi"
)

// Role is what a principal may do.
type Role string

// The roles.
const (
	// RoleUser may do everything RoleAdmin alone may not.
	RoleUser Role = "user"
	// RoleAdmin may also change the query interface (categories and
	// bindings) and delete every entity at once (DELETE /).
	RoleAdmin Role = "admin"
)

// Principal is who sends a request.
type Principal struct {
	Name string
	Role Role
}

// Authenticator tells who sends a request. It answers an error with the
// occi.Unauthenticated code when the request carries no credentials or
// wrong ones. FileAuth (htpasswd and bearer token files) is one; Keystone
// tokens, or principals scoped to a project, would be others.
type Authenticator interface {
	Authenticate(r *http.Request) (Principal, error)
}

// Challenger is an Authenticator that names the schemes it takes, for the
// WWW-Authenticate header field of a 401.
type Challenger interface {
	Challenge() string
}

// defaultChallenge is the WWW-Authenticate of an Authenticator that does
// not say.
const defaultChallenge = `Basic realm="ocni", Bearer`

func (s *Server) challenge() string {
	if ch, ok := s.auth.(Challenger); ok {
		return ch.Challenge()
	}
	return defaultChallenge
}

type principalKey struct{}

// PrincipalFrom returns who sent the request whose context ctx is; false
// on an open server.
func PrincipalFrom(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(principalKey{}).(Principal)
	return p, ok
}

// authenticate names the sender of every request on a server with an
// Authenticator, and refuses what the sender's role does not allow.
func (s *Server) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if s.auth == nil {
			return next(c)
		}
		req := c.Request()
		p, err := s.auth.Authenticate(req)
		if err != nil {
			return err
		}
		c.Set(keyPrincipal, p)
		if what := adminOnly(req); what != "" && p.Role != RoleAdmin {
			return occi.Errorf(occi.Forbidden, "%s (role %s) may not %s: that takes the admin role", p.Name, p.Role, what)
		}
		c.SetRequest(req.WithContext(context.WithValue(req.Context(), principalKey{}, p)))
		return next(c)
	}
}

// adminOnly says what a request does that only an admin may, or "": change
// the query interface (its categories and bindings), or delete every
// entity at once. A bulk DELETE on any other path (a collection, a path
// prefix) acts on entities, which users own, and is theirs.
func adminOnly(r *http.Request) string {
	p := r.URL.Path
	switch {
	case (p == queryPath || p == wellKnownQuery) && r.Method != http.MethodGet && r.Method != http.MethodHead:
		return "change the query interface"
	case r.Method == http.MethodDelete && path.Clean(p) == "/":
		return "delete every entity (DELETE /)"
	}
	return ""
}

// FileAuth authenticates with HTTP Basic against an htpasswd file of bcrypt
// entries, and with bearer tokens listed by their SHA-256. The files are
// read once, when it is made.
type FileAuth struct {
	users  map[string][]byte // name → bcrypt hash
	admins map[string]bool
	tokens []token
	// dummy is compared against when the user is unknown, so that an
	// unknown name takes as long to refuse as a wrong password.
	dummy []byte
	// slots bound the bcrypt comparisons running at once: each costs
	// milliseconds of CPU, and wrong passwords must not starve requests.
	slots chan struct{}

	mu sync.Mutex
	// verified remembers credentials bcrypt accepted, by a SHA-256 of the
	// name and password, so that a client sending them with every request
	// pays bcrypt once.
	verified map[[sha256.Size]byte]Principal
}

type token struct {
	sum       [sha256.Size]byte
	principal Principal
}

// maxVerified bounds the remembered credentials; past it, they are forgotten
// all at once (and verified again as they come).
const maxVerified = 4096

// FileAuthConfig names the files of a FileAuth; either may be empty, not
// both.
type FileAuthConfig struct {
	// Htpasswd holds "name:bcrypt-hash" lines, as `htpasswd -B` writes.
	Htpasswd string
	// Admins are the users of Htpasswd with RoleAdmin; the others have
	// RoleUser.
	Admins []string
	// Tokens holds "sha256-hex role name" lines: the SHA-256 of a bearer
	// token, in hex, its role (admin or user) and the name it logs as.
	Tokens string
}

// LoadFileAuth reads the files cfg names.
func LoadFileAuth(cfg FileAuthConfig) (*FileAuth, error) {
	if cfg.Htpasswd == "" && cfg.Tokens == "" {
		return nil, fmt.Errorf("auth: name an htpasswd file, a tokens file or both")
	}
	open := func(name string) (io.ReadCloser, error) {
		if name == "" {
			return io.NopCloser(strings.NewReader("")), nil
		}
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("auth: %w", err)
		}
		return f, nil
	}
	users, err := open(cfg.Htpasswd)
	if err != nil {
		return nil, err
	}
	defer func() { _ = users.Close() }()
	tokens, err := open(cfg.Tokens)
	if err != nil {
		return nil, err
	}
	defer func() { _ = tokens.Close() }()
	return NewFileAuth(cfg.Htpasswd, users, cfg.Admins, cfg.Tokens, tokens)
}

// NewFileAuth reads an htpasswd file and a tokens file from readers; the
// names are for error messages.
func NewFileAuth(usersName string, users io.Reader, admins []string, tokensName string, tokens io.Reader) (*FileAuth, error) {
	a := &FileAuth{
		users:    map[string][]byte{},
		admins:   map[string]bool{},
		slots:    make(chan struct{}, runtime.GOMAXPROCS(0)),
		verified: map[[sha256.Size]byte]Principal{},
	}
	if err := eachLine(users, func(n int, line string) error {
		name, hash, ok := strings.Cut(line, ":")
		switch {
		case !ok || name == "":
			return fmt.Errorf("auth: htpasswd %s:%d: want name:hash", usersName, n)
		case a.users[name] != nil:
			return fmt.Errorf("auth: htpasswd %s:%d: %s is listed twice", usersName, n, name)
		}
		if _, err := bcrypt.Cost([]byte(hash)); err != nil {
			return fmt.Errorf("auth: htpasswd %s:%d: the entry of %s is not bcrypt (write it with htpasswd -B): %w", usersName, n, name, err)
		}
		a.users[name] = []byte(hash)
		return nil
	}); err != nil {
		return nil, err
	}
	for _, name := range admins {
		if a.users[name] == nil {
			return nil, fmt.Errorf("auth: admins: %s is not in the htpasswd file %s", name, usersName)
		}
		a.admins[name] = true
	}
	seen := map[[sha256.Size]byte]bool{}
	if err := eachLine(tokens, func(n int, line string) error {
		f := strings.Fields(line)
		if len(f) != 3 {
			return fmt.Errorf("auth: tokens %s:%d: want the token's sha256 in hex, a role and a name", tokensName, n)
		}
		var t token
		if sum, err := hex.DecodeString(f[0]); err != nil || len(sum) != sha256.Size {
			return fmt.Errorf("auth: tokens %s:%d: %.16s… is not a SHA-256 in hex (64 digits)", tokensName, n, f[0])
		} else {
			copy(t.sum[:], sum)
		}
		if seen[t.sum] {
			return fmt.Errorf("auth: tokens %s:%d: the same token is listed twice", tokensName, n)
		}
		seen[t.sum] = true
		t.principal = Principal{Name: f[2], Role: Role(f[1])}
		if t.principal.Role != RoleAdmin && t.principal.Role != RoleUser {
			return fmt.Errorf("auth: tokens %s:%d: role %q: want admin or user", tokensName, n, f[1])
		}
		a.tokens = append(a.tokens, t)
		return nil
	}); err != nil {
		return nil, err
	}
	if len(a.users) == 0 && len(a.tokens) == 0 {
		return nil, fmt.Errorf("auth: the files name no user and no token: nobody could use the server")
	}
	// The dummy's cost is the users' (the first one's will do), so that it
	// takes as long as theirs.
	cost := bcrypt.DefaultCost
	for _, h := range a.users {
		cost, _ = bcrypt.Cost(h)
		break
	}
	dummy, err := bcrypt.GenerateFromPassword([]byte("no such user"), cost)
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	a.dummy = dummy
	return a, nil
}

// eachLine calls f with each line of r that is neither blank nor a # comment,
// trimmed, and its number.
func eachLine(r io.Reader, f func(n int, line string) error) error {
	sc := bufio.NewScanner(r)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if err := f(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("auth: %w", err)
	}
	return nil
}

// Challenge implements Challenger: the schemes this FileAuth takes.
func (a *FileAuth) Challenge() string {
	switch {
	case len(a.tokens) == 0:
		return `Basic realm="ocni"`
	case len(a.users) == 0:
		return `Bearer realm="ocni"`
	}
	return defaultChallenge
}

var errWrongCredentials = occi.Errorf(occi.Unauthenticated, "wrong user name or password")

// Authenticate implements Authenticator.
func (a *FileAuth) Authenticate(r *http.Request) (Principal, error) {
	fields := r.Header.Values("Authorization")
	switch len(fields) {
	case 0:
		return Principal{}, occi.Errorf(occi.Unauthenticated, "this server needs credentials: HTTP Basic or a bearer token (Authorization header)")
	case 1:
	default:
		return Principal{}, occi.Errorf(occi.Unauthenticated, "malformed Authorization header: it is given %d times", len(fields))
	}
	scheme, cred, _ := strings.Cut(strings.TrimSpace(fields[0]), " ")
	cred = strings.TrimSpace(cred)
	switch {
	case strings.EqualFold(scheme, "Basic"):
		raw, err := base64.StdEncoding.DecodeString(cred)
		if err != nil {
			return Principal{}, occi.Errorf(occi.Unauthenticated, "malformed Authorization header: Basic credentials are not base64")
		}
		name, password, ok := strings.Cut(string(raw), ":")
		if !ok {
			return Principal{}, occi.Errorf(occi.Unauthenticated, "malformed Authorization header: Basic credentials are not name:password")
		}
		return a.password(r.Context(), name, password)
	case strings.EqualFold(scheme, "Bearer"):
		if cred == "" {
			return Principal{}, occi.Errorf(occi.Unauthenticated, "malformed Authorization header: the bearer token is empty")
		}
		return a.token(cred)
	}
	return Principal{}, occi.Errorf(occi.Unauthenticated, "malformed Authorization header: the scheme %.20q is not supported; use Basic or Bearer", scheme)
}

func (a *FileAuth) password(ctx context.Context, name, password string) (Principal, error) {
	key := sha256.Sum256([]byte(name + "\x00" + password))
	a.mu.Lock()
	p, ok := a.verified[key]
	a.mu.Unlock()
	if ok {
		return p, nil
	}
	hash, known := a.users[name]
	if !known {
		hash = a.dummy
	}
	select {
	case a.slots <- struct{}{}:
	case <-ctx.Done():
		return Principal{}, occi.Errorf(occi.Unavailable, "the request ended before its credentials were checked")
	}
	err := bcrypt.CompareHashAndPassword(hash, []byte(password))
	<-a.slots
	if err != nil || !known {
		return Principal{}, errWrongCredentials
	}
	p = Principal{Name: name, Role: RoleUser}
	if a.admins[name] {
		p.Role = RoleAdmin
	}
	a.mu.Lock()
	if len(a.verified) >= maxVerified {
		clear(a.verified)
	}
	a.verified[key] = p
	a.mu.Unlock()
	return p, nil
}

// token compares the token's SHA-256 with every listed one, all of them and
// in constant time each, so that the time taken says nothing of how close
// a guess was or which entry matched.
func (a *FileAuth) token(t string) (Principal, error) {
	sum := sha256.Sum256([]byte(t))
	found := -1
	for i := range a.tokens {
		if subtle.ConstantTimeCompare(sum[:], a.tokens[i].sum[:]) == 1 {
			found = i
		}
	}
	if found < 0 {
		return Principal{}, occi.Errorf(occi.Unauthenticated, "unknown bearer token")
	}
	return a.tokens[found].principal, nil
}
