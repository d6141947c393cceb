package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/ocni/ocni/registry"
	"github.com/ocni/ocni/store"
)

// The administration subcommands, `ocnid check` and `ocnid backup`.
//
// bbolt lets one process open a data file for writing and no other process
// open it at all meanwhile (flock: the writer's lock is exclusive, a
// reader's shared). So both subcommands work on the file of a stopped
// server, opened read-only; they never create or change it. While a server
// runs, its file is copied by the server itself: store.BackupHandler, which
// main.go mounts at backupEndpoint on the -debug-listen address, streams a
// consistent copy, and `ocnid check -data copy.db` checks that copy.

// backupEndpoint is where the running server serves a copy of its data
// file (store.BackupHandler), on its debug address.
const backupEndpoint = "/admin/backup"

// runAdmin runs the administration subcommand args names: handled is false
// when args[0] names none (the server runs then). err is what the command
// found wrong, to print and exit non-zero on; its report goes to stdout.
// A cancelled ctx stops it before its next step.
func runAdmin(ctx context.Context, args []string, stdout, stderr io.Writer) (handled bool, err error) {
	if len(args) == 0 {
		return false, nil
	}
	switch args[0] {
	case "check":
		return true, runCheck(ctx, args[1:], stdout, stderr)
	case "backup":
		return true, runBackup(ctx, args[1:], stdout, stderr)
	}
	return false, nil
}

// adminFlags parses a subcommand's flags: -data overrides the data file the
// configuration names, as for the server.
func adminFlags(name, usage string, args []string, stderr io.Writer) (cfg Config, rest []string, err error) {
	fs := flag.NewFlagSet("ocnid "+name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (for the data file, providers and bindings)")
	data := fs.String("data", "", "bbolt data file (default: the configuration's, ./data/ocni.db)")
	fs.Usage = func() {
		_, _ = fmt.Fprintf(stderr, "usage: ocnid %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return cfg, nil, err
	}
	cfg, err = LoadConfig(*configPath)
	if err != nil {
		return cfg, nil, err
	}
	if *data != "" {
		cfg.Data = *data
	}
	if cfg.Data == "" {
		return cfg, nil, errors.New("config: data: the data file path is empty")
	}
	return cfg, fs.Args(), nil
}

// runCheck checks a data file: bbolt's page structure, then ocni's
// invariants, with the categories registered in the file and the
// configuration's providers and bindings. It prints a report, and fails
// when it found a problem.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, rest, err := adminFlags("check", "[-data FILE] [-config FILE]", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return fmt.Errorf("check: unexpected arguments: %s", strings.Join(rest, " "))
	}
	db, err := store.OpenReadOnly(cfg.Data)
	switch {
	case errors.Is(err, store.ErrLocked):
		return fmt.Errorf("%w\nocnid check cannot read the file of a running server (bbolt lets no other process open it): stop the server, or fetch a copy from it (curl -fo copy.db http://DEBUG-LISTEN%s) and run ocnid check -data copy.db", err, backupEndpoint)
	case errors.Is(err, store.ErrDamaged):
		// Open names the first problem; list them all.
		rep, cerr := store.CheckPages(cfg.Data)
		if cerr != nil {
			return err
		}
		_, _ = rep.WriteTo(stdout)
		return fmt.Errorf("data file %s is damaged: restore it from a backup made with `ocnid backup`, or move it away to start with an empty store", cfg.Data)
	case err != nil:
		return err
	}
	defer func() { _ = db.Close() }()
	if err := ctx.Err(); err != nil {
		return err
	}

	var registered func(string) bool
	var regProblem string
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg, err := registry.New(db, registry.Options{Providers: cfg.ProviderNames(), Defaults: cfg.Bindings, Logger: logger})
	if err != nil {
		// The store checks on; whether entities' categories exist cannot
		// be told without the model.
		regProblem = fmt.Sprintf("categories: %v (so entities' kinds and mixins are not checked)", err)
	} else {
		snap := reg.Snapshot()
		registered = func(id string) bool { _, ok := snap.ClassOf(id); return ok }
	}
	rep, err := store.Check(db, registered)
	if err != nil {
		return err
	}
	if regProblem != "" {
		rep.Problems = append([]string{regProblem}, rep.Problems...)
	}
	if _, err := rep.WriteTo(stdout); err != nil {
		return err
	}
	if !rep.OK() {
		return fmt.Errorf("%s found in %s", rep.Count(), cfg.Data)
	}
	return nil
}

// runBackup copies the data file of a stopped server to a file, atomically
// (store.DB.BackupFile). The file of a running server is locked: the error
// says to fetch the copy from the server. The data file is opened
// read-only: a backup never creates a missing one nor upgrades its layout.
func runBackup(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, rest, err := adminFlags("backup", "[-data FILE] [-config FILE] DEST", args, stderr)
	if err != nil {
		return err
	}
	if len(rest) != 1 {
		return errors.New("backup: want one destination file: ocnid backup [-data FILE] [-config FILE] DEST")
	}
	dest := rest[0]
	db, err := store.OpenReadOnly(cfg.Data)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w\na running server holds the data file and bbolt lets no other process open it: fetch the copy from the server instead, on its debug address: curl -fo %s http://DEBUG-LISTEN%s", err, dest, backupEndpoint)
	}
	if err != nil {
		return err
	}
	defer func() { _ = db.Close() }()
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.BackupFile(dest); err != nil {
		return err
	}
	fi, err := os.Stat(dest)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(stdout, "backed up %s to %s (%d bytes)\n", cfg.Data, dest, fi.Size())
	return err
}
