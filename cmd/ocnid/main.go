// Command ocnid is the ocni OCCI 1.2 server.
//
// It serves the OCCI HTTP protocol on one address, keeps its state in one
// bbolt data file, and dispatches each kind to the backend provider it is
// bound to. See README.rst for the configuration file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/ocni/ocni/backends"
	_ "github.com/ocni/ocni/backends/dummy"   // the default driver
	_ "github.com/ocni/ocni/backends/libvirt" // the libvirt driver
	_ "github.com/ocni/ocni/backends/occi"    // the occi driver: federation
	"github.com/ocni/ocni/engine"
	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/server"
	"github.com/ocni/ocni/store"
)

func main() {
	if handled, err := runAdmin(context.Background(), os.Args[1:], os.Stdout, os.Stderr); handled {
		if err != nil {
			fmt.Fprintln(os.Stderr, "ocnid:", err)
			os.Exit(1)
		}
		return
	}
	err := run(context.Background(), os.Args[1:], os.Stderr, nil)
	switch {
	case errors.Is(err, flag.ErrHelp), errors.Is(err, errVersion):
		// -h and -version print what was asked and succeed.
	case err != nil:
		fmt.Fprintln(os.Stderr, "ocnid:", err)
		os.Exit(1)
	}
}

// run starts the server and blocks until ctx ends or SIGINT/SIGTERM arrives,
// then shuts down gracefully. ready, when not nil, receives the address the
// server listens on (tests listen on port 0).
func run(ctx context.Context, args []string, stderr io.Writer, ready chan<- string) error {
	// Signals are caught from the start: a SIGTERM during start-up must
	// still close the data file cleanly.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}
	level, _ := parseLevel(cfg.LogLevel)
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	// The credentials are read before the data file is opened: a bad
	// file stops the start with nothing touched.
	auth, err := cfg.authenticator()
	if err != nil {
		return err
	}

	db, err := store.Open(cfg.Data)
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	reg, err := registry.New(db, registry.Options{
		Providers: cfg.ProviderNames(),
		Defaults:  cfg.Bindings,
		Logger:    logger,
	})
	if err != nil {
		return err
	}
	providers, err := openProviders(cfg.Providers, logger)
	defer closeProviders(providers, logger)
	if err != nil {
		return err
	}
	eng := engine.New(reg, db, engine.Options{
		Providers: providers, MaxPage: cfg.MaxPage, Logger: logger, DefaultProvider: cfg.DefaultProvider,
		LockWait:          time.Duration(cfg.LockWait * float64(time.Second)),
		IndexedAttributes: cfg.IndexedAttributes, ScanBudget: cfg.ScanBudget,
	})
	rep, err := eng.Recover(ctx)
	if err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	if n, err := eng.RegisterTemplates(ctx); err != nil {
		return err
	} else if n > 0 {
		logger.Info("templates registered", "count", n)
	}
	logger.Info("recovery done", "adopted", rep.Adopted, "dropped", rep.Dropped, "completed", rep.Completed, "orphans", rep.Orphans, "unresolved", rep.Unresolved)
	eng.RunRefresh(ctx)
	eng.RunReconciler(ctx, time.Second)

	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	// Validated with the configuration, as are the proxies.
	public, _ := cfg.publicURL()
	proxies, _ := cfg.trustedProxies()
	srv := server.New(server.Config{
		Engine: eng, BodyLimit: int64(cfg.BodyLimit), Logger: logger, PublicURL: public,
		Auth:           auth,
		AllowedHosts:   cfg.servedHosts(ln.Addr()),
		AllowedOrigins: cfg.AllowedOrigins,
		TrustedProxies: proxies,
		BodyTimeout:    time.Duration(cfg.Timeouts.Body),
		WriteTimeout:   time.Duration(cfg.Timeouts.Write),
	})
	// The server times bodies and answers itself, from the end of the
	// header and from when the answer is ready: http.Server's ReadTimeout
	// and WriteTimeout would also count the time the operation takes.
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: time.Duration(cfg.Timeouts.Header),
		IdleTimeout:       time.Duration(cfg.Timeouts.Idle),
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	if auth == nil && !loopback(cfg.Listen) {
		logger.Warn("serving off loopback without authentication (-insecure): anyone who reaches this address can change or delete everything", "listen", cfg.Listen)
	}
	logger.Info("ocnid started", "version", server.Version, "listen", ln.Addr().String(), "data", cfg.Data, "providers", cfg.ProviderNames(),
		"auth", auth != nil, "max_connections", cfg.MaxConnections)
	if cfg.DebugListen != "" {
		stopDebug, err := serveDebug(cfg.DebugListen, db, logger)
		if err != nil {
			return err
		}
		defer stopDebug()
	}
	if ready != nil {
		ready <- ln.Addr().String()
	}

	served := make(chan error, 1)
	go func() { served <- httpSrv.Serve(srv.LimitListener(ln, cfg.MaxConnections)) }()
	select {
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	sctx, cancel := context.WithTimeout(context.Background(), time.Duration(cfg.ShutdownTimeout)*time.Second)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	logger.Info("stopped")
	return nil
}

// errVersion ends the run after -version printed the version.
var errVersion = errors.New("version printed")

// parseFlags reads the flags; flags given explicitly override the config
// file, which overrides the defaults.
func parseFlags(args []string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("ocnid", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file")
	var over Config
	fs.StringVar(&over.Listen, "listen", "", "address to listen on (default 127.0.0.1:8090)")
	fs.StringVar(&over.Data, "data", "", "bbolt data file (default ./data/ocni.db)")
	fs.Var(&over.BodyLimit, "body-limit", "largest request body, e.g. 1MiB (default 1MiB)")
	fs.StringVar(&over.LogLevel, "log-level", "", "debug, info, warn or error (default info)")
	fs.StringVar(&over.DebugListen, "debug-listen", "", "serve pprof profiles and the hot backup on this address (off by default)")
	fs.BoolVar(&over.Insecure, "insecure", false, "allow listening off loopback without auth (README.rst: Running ocnid safely)")
	version := fs.Bool("version", false, "print the version and exit")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(fs.Output(), "Usage: ocnid [flags]\n       ocnid check [-data FILE] [-config FILE]\n       ocnid backup [-data FILE] [-config FILE] DEST\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if *version {
		fmt.Println("ocnid", server.Version)
		return Config{}, errVersion
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	cfg, err := LoadConfig(*configPath)
	if err != nil {
		return cfg, err
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = over.Listen
		case "data":
			cfg.Data = over.Data
		case "body-limit":
			cfg.BodyLimit = over.BodyLimit
		case "log-level":
			cfg.LogLevel = over.LogLevel
		case "debug-listen":
			cfg.DebugListen = over.DebugListen
		case "insecure":
			cfg.Insecure = over.Insecure
		}
	})
	return cfg, cfg.Validate()
}

// openProviders builds the configured providers; on error it returns those
// built so far, for closing.
func openProviders(cfgs []Provider, logger *slog.Logger) (map[string]backends.Provider, error) {
	out := make(map[string]backends.Provider, len(cfgs))
	for _, pc := range cfgs {
		p, err := backends.Open(pc.Name, pc.Driver, pc.Options)
		if err != nil {
			return out, fmt.Errorf("config: %w", err)
		}
		out[pc.Name] = p
		logger.Info("provider", "name", pc.Name, "driver", pc.Driver, "options", backends.Describe(pc.Driver, pc.Options))
	}
	return out, nil
}

func closeProviders(providers map[string]backends.Provider, logger *slog.Logger) {
	for name, p := range providers {
		if err := p.Close(); err != nil {
			logger.Warn("closing provider", "provider", name, "error", err.Error())
		}
	}
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(s)); err != nil {
		return l, fmt.Errorf("config: log_level %q: want debug, info, warn or error", s)
	}
	return l, nil
}
