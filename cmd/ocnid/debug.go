package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"time"

	"github.com/ocni/ocni/store"
)

// serveDebug serves Go's pprof profiles, and a consistent copy of the data
// file (the hot backup), on their own listener, never on the OCCI address:
// they tell too much to be public.
func serveDebug(addr string, db *store.DB, logger *slog.Logger) (stop func(), err error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("debug listen: %w", err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	mux.Handle(backupEndpoint, store.BackupHandler(db))
	// No write timeout: a backup streams the whole data file.
	srv := &http.Server{Handler: loopbackHosts(ln.Addr(), mux), ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("debug endpoints", "listen", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}

// loopbackHosts serves only requests that name a loopback host at the debug
// port: a web page whose name was rebound to loopback must not download the
// data file.
func loopbackHosts(addr net.Addr, h http.Handler) http.Handler {
	_, port, _ := net.SplitHostPort(addr.String())
	served := map[string]bool{}
	for _, host := range []string{"localhost", "127.0.0.1", "::1"} {
		served[net.JoinHostPort(host, port)] = true
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !served[strings.ToLower(r.Host)] {
			http.Error(w, "this debug address answers only for localhost, 127.0.0.1 and [::1] at port "+port, http.StatusMisdirectedRequest)
			return
		}
		h.ServeHTTP(w, r)
	})
}
