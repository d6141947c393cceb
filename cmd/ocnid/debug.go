package main

import (
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"

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
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10e9}
	go func() { _ = srv.Serve(ln) }()
	logger.Info("debug endpoints", "listen", ln.Addr().String())
	return func() { _ = srv.Close() }, nil
}
