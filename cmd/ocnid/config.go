package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"

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
	if _, err := c.publicURL(); err != nil {
		return err
	}
	if c.DefaultProvider != "" && !names[c.DefaultProvider] {
		return fmt.Errorf("config: default_provider %q is not a configured provider", c.DefaultProvider)
	}
	return nil
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
