package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/ocni/ocni/backends"
	"github.com/ocni/ocni/backends/dummy"
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/server"
)

// Config is ocnid's configuration file. Every field has a default, so an
// empty file (or none) runs a server on loopback with the dummy provider.
type Config struct {
	// Listen is the address to serve on.
	Listen string `yaml:"listen"`
	// Data is the bbolt data file.
	Data string `yaml:"data"`
	// BodyLimit is the largest request body: a byte count, or a size with
	// a unit (KiB, MiB, GiB, KB, MB, GB).
	BodyLimit ByteSize `yaml:"body_limit"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `yaml:"log_level"`
	// ShutdownTimeout bounds the graceful shutdown, in seconds.
	ShutdownTimeout int `yaml:"shutdown_timeout"`
	// MaxPage is the largest page (?number=) a listing may ask for.
	MaxPage int `yaml:"max_page"`
	// LockWait is how long, in seconds, a request waits for another
	// operation on the same entity before it answers 409.
	LockWait float64 `yaml:"lock_wait"`
	// IndexedAttributes are attributes, besides occi.core.*, that equality
	// filters (?attribute=&value=) find through an index.
	IndexedAttributes []string `yaml:"indexed_attributes"`
	// ScanBudget is how many entities a filtered listing may read beyond
	// those it answers before it stops with a 413; 0 for the default.
	ScanBudget int `yaml:"scan_budget"`
	// DebugListen, when set, serves Go's pprof profiles on this address
	// (keep it on loopback): for profiling and for the soak test.
	DebugListen string `yaml:"debug_listen"`
	// Providers are the backend provider instances.
	Providers []Provider `yaml:"providers"`
	// Bindings bind kind ids to provider names. A binding made at runtime
	// on the query interface is kept in the data file and wins.
	Bindings map[string]string `yaml:"bindings"`
	// DefaultProvider serves the kinds no binding names, such as kinds
	// registered at runtime without one: the first provider by default.
	DefaultProvider string `yaml:"default_provider"`
	// PublicURL is the scheme and authority clients reach the server at
	// (http://host:port or https://host behind a proxy): the URLs the
	// server renders use it. Empty: each request's own Host.
	PublicURL string `yaml:"public_url"`
	// Timeouts bound each stage of a connection, so that slow or idle
	// clients cannot hold connections for ever.
	Timeouts Timeouts `yaml:"timeouts"`
	// MaxConnections caps the connections open at once; one more gets a
	// 503 at once. Keep it below the open-file limit.
	MaxConnections int `yaml:"max_connections"`
	// Auth, when set, asks every request for credentials.
	Auth *AuthConfig `yaml:"auth"`
	// AllowedOrigins are the web origins (scheme://host[:port]) whose
	// pages may change things (CORS); pages from anywhere else may not.
	AllowedOrigins []string `yaml:"allowed_origins"`
	// AllowedHosts are Host names ("name", any port, or "name:port")
	// served besides the listen address, the localhost names and
	// public_url's; any other Host gets a 421 (DNS rebinding).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// TrustedProxies are the CIDRs (or addresses) of the proxies whose
	// X-Forwarded-* and X-Real-IP header fields are believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// Insecure is the -insecure flag: serve off loopback without auth.
	Insecure bool `yaml:"-"`
}

// Timeouts are the connection timeouts.
type Timeouts struct {
	// Header bounds the time to receive a request's header.
	Header Duration `yaml:"header"`
	// Body bounds the time to receive a request's body, from the end of
	// its header: a body not received by then is cut (408).
	Body Duration `yaml:"body"`
	// Write bounds the time to send an answer once it is ready.
	Write Duration `yaml:"write"`
	// Idle bounds the wait for the next request on a kept-alive
	// connection.
	Idle Duration `yaml:"idle"`
}

// AuthConfig names the credentials files.
type AuthConfig struct {
	// Htpasswd holds bcrypt entries, as `htpasswd -B` writes them.
	Htpasswd string `yaml:"htpasswd"`
	// Admins are the users of Htpasswd with the admin role; the others
	// are users.
	Admins []string `yaml:"admins"`
	// TokensFile holds, per line, the SHA-256 of a bearer token in hex, a
	// role (admin or user) and a name.
	TokensFile string `yaml:"tokens_file"`
}

// Duration is a time span that YAML writes as a Go duration ("30s", "2m")
// or a number of seconds, like the other timeouts of the file.
type Duration time.Duration

// UnmarshalYAML implements yaml.Unmarshaler.
func (d *Duration) UnmarshalYAML(n *yaml.Node) error {
	if secs, err := strconv.ParseFloat(n.Value, 64); err == nil && n.Kind == yaml.ScalarNode {
		*d = Duration(secs * float64(time.Second))
		return nil
	}
	v, err := time.ParseDuration(n.Value)
	if err != nil || n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: duration %q: want a number of seconds or a duration such as 30s or 2m", n.Line, n.Value)
	}
	*d = Duration(v)
	return nil
}

// publicURL parses PublicURL; nil when it is empty.
func (c *Config) publicURL() (*url.URL, error) {
	if c.PublicURL == "" {
		return nil, nil
	}
	u, err := url.Parse(c.PublicURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("config: public_url %q: want http(s)://host[:port], with no path, user, query or fragment", c.PublicURL)
	}
	u.Path = ""
	return u, nil
}

// Provider is one backend provider instance: a driver and its options.
type Provider struct {
	Name    string         `yaml:"name"`
	Driver  string         `yaml:"driver"`
	Options map[string]any `yaml:"options"`
}

// infrastructureKinds are bound to the first provider when the config
// names no bindings.
var infrastructureKinds = []string{occi.ComputeKindID, occi.NetworkKindID, occi.StorageKindID, occi.NetworkInterfaceID, occi.StorageLinkKindID}

// DefaultConfig is the configuration with no file and no flags.
func DefaultConfig() Config {
	cfg := Config{
		Listen:          "127.0.0.1:8090",
		Data:            "./data/ocni.db",
		BodyLimit:       server.DefaultBodyLimit,
		LogLevel:        "info",
		ShutdownTimeout: 10,
		MaxPage:         engine.DefaultMaxPage,
		LockWait:        engine.DefaultLockWait.Seconds(),
		Providers:       []Provider{{Name: dummy.DriverName, Driver: dummy.DriverName}},
		Timeouts: Timeouts{
			Header: Duration(10 * time.Second),
			Body:   Duration(30 * time.Second),
			Write:  Duration(30 * time.Second),
			Idle:   Duration(2 * time.Minute),
		},
		MaxConnections: 1000,
	}
	cfg.fillDefaultBindings()
	return cfg
}

// fillDefaultBindings binds the infrastructure kinds to the first provider
// when the configuration binds nothing, and makes it the default provider
// when none is named.
func (c *Config) fillDefaultBindings() {
	if c.DefaultProvider == "" && len(c.Providers) > 0 {
		c.DefaultProvider = c.Providers[0].Name
	}
	if c.Bindings != nil || len(c.Providers) == 0 {
		return
	}
	c.Bindings = make(map[string]string, len(infrastructureKinds))
	for _, k := range infrastructureKinds {
		c.Bindings[k] = c.Providers[0].Name
	}
}

// LoadConfig reads a YAML file over the defaults. Unknown keys are errors:
// a misspelt key silently ignored is a misconfigured server.
func LoadConfig(path string) (Config, error) {
	cfg := DefaultConfig()
	if path == "" {
		return cfg, nil
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return cfg, fmt.Errorf("config: %w", err)
	}
	// Bindings default from the providers the file declares, so they are
	// filled in after decoding rather than merged with the defaults.
	cfg.Bindings, cfg.DefaultProvider = nil, ""
	dec := yaml.NewDecoder(bytes.NewReader(raw))
	dec.KnownFields(true)
	if err := dec.Decode(&cfg); err != nil && !errors.Is(err, io.EOF) {
		return cfg, fmt.Errorf("config %s: %w", path, err)
	}
	cfg.fillDefaultBindings()
	return cfg, nil
}

// Validate checks the configuration as a whole, naming the bad field.
func (c *Config) Validate() error {
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return fmt.Errorf("config: listen %q: want host:port (%w)", c.Listen, err)
	}
	if c.Data == "" {
		return errors.New("config: data: the data file path is empty")
	}
	if c.BodyLimit <= 0 {
		return fmt.Errorf("config: body_limit must be positive, got %d", c.BodyLimit)
	}
	if c.ShutdownTimeout <= 0 {
		return fmt.Errorf("config: shutdown_timeout must be positive, got %d", c.ShutdownTimeout)
	}
	if c.DebugListen != "" {
		if _, _, err := net.SplitHostPort(c.DebugListen); err != nil {
			return fmt.Errorf("config: debug_listen %q: want host:port (%w)", c.DebugListen, err)
		}
	}
	if c.MaxPage <= 0 {
		return fmt.Errorf("config: max_page must be positive, got %d", c.MaxPage)
	}
	if c.LockWait <= 0 || c.LockWait > 3600 {
		return fmt.Errorf("config: lock_wait must be a number of seconds above 0 and at most 3600, got %v", c.LockWait)
	}
	if _, err := parseLevel(c.LogLevel); err != nil {
		return err
	}
	if len(c.Providers) == 0 {
		return errors.New("config: providers: at least one provider is needed")
	}
	names := map[string]bool{}
	for i, p := range c.Providers {
		switch {
		case p.Name == "":
			return fmt.Errorf("config: providers[%d]: name is empty", i)
		case names[p.Name]:
			return fmt.Errorf("config: providers[%d]: name %q is used twice", i, p.Name)
		}
		if _, ok := backends.Lookup(p.Driver); !ok {
			return fmt.Errorf("config: providers[%d] (%s): unknown driver %q (known: %s)", i, p.Name, p.Driver, strings.Join(backends.Names(), ", "))
		}
		names[p.Name] = true
	}
	for kind, p := range c.Bindings {
		if err := occi.ValidID(kind); err != nil {
			return fmt.Errorf("config: bindings: %q: %w", kind, err)
		}
		if !names[p] {
			return fmt.Errorf("config: bindings: %s is bound to %q, which is not a configured provider", kind, p)
		}
	}
	for _, name := range c.IndexedAttributes {
		if err := occi.ValidAttributeName(name); err != nil {
			return fmt.Errorf("config: indexed_attributes: %q: %w", name, err)
		}
	}
	if c.ScanBudget < 0 {
		return fmt.Errorf("config: scan_budget must not be negative, got %d", c.ScanBudget)
	}
	if _, err := c.publicURL(); err != nil {
		return err
	}
	if c.DefaultProvider != "" && !names[c.DefaultProvider] {
		return fmt.Errorf("config: default_provider %q is not a configured provider", c.DefaultProvider)
	}
	return c.validateSafety()
}

// validateSafety checks the keys of "Running ocnid safely": limits, auth,
// origins, hosts, proxies, and that an open server stays on loopback.
func (c *Config) validateSafety() error {
	for _, t := range []struct {
		name string
		d    Duration
	}{{"header", c.Timeouts.Header}, {"body", c.Timeouts.Body}, {"write", c.Timeouts.Write}, {"idle", c.Timeouts.Idle}} {
		if t.d <= 0 {
			return fmt.Errorf("config: timeouts.%s must be positive, got %s", t.name, time.Duration(t.d))
		}
	}
	if c.MaxConnections <= 0 {
		return fmt.Errorf("config: max_connections must be positive, got %d", c.MaxConnections)
	}
	if a := c.Auth; a != nil {
		switch {
		case a.Htpasswd == "" && a.TokensFile == "":
			return errors.New("config: auth: name an htpasswd file, a tokens_file or both")
		case len(a.Admins) > 0 && a.Htpasswd == "":
			return errors.New("config: auth: admins name users of the htpasswd file, and there is none")
		}
	}
	for _, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if o == "*" || err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return fmt.Errorf("config: allowed_origins: %q: want an origin, http(s)://host[:port], each one listed (no *)", o)
		}
	}
	for _, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ \t@*") {
			return fmt.Errorf("config: allowed_hosts: %q: want a host name or address, with an optional :port (no scheme, path or wildcard)", h)
		}
	}
	if _, err := c.trustedProxies(); err != nil {
		return err
	}
	return c.checkExposure()
}

// checkExposure refuses an address off loopback without auth: anyone who
// reached it could change or delete everything. The debug address has no
// auth at all, and tells the data file to whoever asks.
func (c *Config) checkExposure() error {
	if c.Insecure {
		return nil
	}
	if c.Auth == nil && !loopback(c.Listen) {
		return fmt.Errorf("config: listen %s is not a loopback address and auth is not configured: anyone who can reach it could change or delete everything. Configure auth (README.rst, \"Running ocnid safely\"), or pass -insecure to serve without authentication anyway", c.Listen)
	}
	if c.DebugListen != "" && !loopback(c.DebugListen) {
		return fmt.Errorf("config: debug_listen %s is not a loopback address: it serves profiles and a copy of the data file to anyone, without auth. Keep it on loopback, or pass -insecure", c.DebugListen)
	}
	return nil
}

// loopback reports whether a host:port listens on loopback only.
func loopback(hostport string) bool {
	host, _, err := net.SplitHostPort(hostport)
	if err != nil {
		return false
	}
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// trustedProxies parses TrustedProxies: CIDRs, or single addresses.
func (c *Config) trustedProxies() ([]*net.IPNet, error) {
	out := make([]*net.IPNet, 0, len(c.TrustedProxies))
	for _, p := range c.TrustedProxies {
		if ip := net.ParseIP(p); ip != nil {
			bits := 8 * net.IPv6len
			if ip4 := ip.To4(); ip4 != nil {
				ip, bits = ip4, 8*net.IPv4len
			}
			out = append(out, &net.IPNet{IP: ip, Mask: net.CIDRMask(bits, bits)})
			continue
		}
		_, n, err := net.ParseCIDR(p)
		if err != nil {
			return nil, fmt.Errorf("config: trusted_proxies: %q: want a CIDR (10.0.0.0/8) or an address", p)
		}
		out = append(out, n)
	}
	return out, nil
}

// authenticator reads the credentials files; nil when auth is off.
func (c *Config) authenticator() (server.Authenticator, error) {
	if c.Auth == nil {
		return nil, nil
	}
	a, err := server.LoadFileAuth(server.FileAuthConfig{Htpasswd: c.Auth.Htpasswd, Admins: c.Auth.Admins, Tokens: c.Auth.TokensFile})
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return a, nil
}

// servedHosts are the Host values the server answers, once it listens at
// bound: the listen address (every interface's address and the machine's
// name, when it listens on all of them), the localhost names at its port,
// public_url's host, and allowed_hosts. A DNS rebinding page names a host
// of its own, which none of these is.
func (c *Config) servedHosts(bound net.Addr) []string {
	_, port, _ := net.SplitHostPort(bound.String())
	var hosts []string
	add := func(h string) {
		if hp := net.JoinHostPort(h, port); !slices.Contains(hosts, hp) {
			hosts = append(hosts, hp)
		}
		// Clients leave the default port out of Host.
		if port == "80" && !slices.Contains(hosts, h) {
			hosts = append(hosts, h)
		}
	}
	for _, h := range []string{"localhost", "127.0.0.1", "::1"} {
		add(h)
	}
	host, _, _ := net.SplitHostPort(c.Listen)
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		if addrs, err := net.InterfaceAddrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					add(n.IP.String())
				}
			}
		}
		if name, err := os.Hostname(); err == nil {
			add(name)
		}
	} else {
		add(host)
	}
	if pub, _ := c.publicURL(); pub != nil {
		// The operator's own name: any port of it (https://name:443 is
		// also sent as name).
		hosts = append(hosts, pub.Hostname())
	}
	return append(hosts, c.AllowedHosts...)
}

// ProviderNames lists the configured providers' names.
func (c *Config) ProviderNames() []string {
	out := make([]string, len(c.Providers))
	for i, p := range c.Providers {
		out[i] = p.Name
	}
	return out
}

// ByteSize is a size in bytes that YAML and flags may write with a unit.
type ByteSize int64

var units = []struct {
	suffix string
	factor int64
}{
	{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
	{"KB", 1000}, {"MB", 1000 * 1000}, {"GB", 1000 * 1000 * 1000},
	{"B", 1},
}

// ParseByteSize reads "1048576", "1MiB", "512 KB".
func ParseByteSize(s string) (ByteSize, error) {
	s = strings.TrimSpace(s)
	factor := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, factor = strings.TrimSpace(strings.TrimSuffix(s, u.suffix)), u.factor
			break
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 || n > (1<<62)/factor {
		return 0, fmt.Errorf("size %q: want a non-negative whole number with an optional unit (KiB, MiB, GiB, KB, MB, GB)", s)
	}
	return ByteSize(n * factor), nil
}

// UnmarshalYAML implements yaml.Unmarshaler.
func (b *ByteSize) UnmarshalYAML(n *yaml.Node) error {
	v, err := ParseByteSize(n.Value)
	if err != nil {
		return fmt.Errorf("line %d: %w", n.Line, err)
	}
	*b = v
	return nil
}

// String implements flag.Value.
func (b *ByteSize) String() string { return strconv.FormatInt(int64(*b), 10) }

// Set implements flag.Value.
func (b *ByteSize) Set(s string) error {
	v, err := ParseByteSize(s)
	if err == nil {
		*b = v
	}
	return err
}
