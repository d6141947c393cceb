package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/store"
)

// adminDataFile writes a data file as the server would (store.Open,
// entities through Write, Close): n computes, each with a network
// interface to one network, then extra entities as given.
func adminDataFile(t *testing.T, n int, extra ...*store.Entity) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "ocni.db")
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Write(func(tx *store.Tx) error {
		es := []*store.Entity{{Location: "/network/n", ID: "n", Kind: occi.NetworkKindID, Provider: "dummy"}}
		for i := range n {
			loc := fmt.Sprintf("/compute/c%d", i)
			es = append(es,
				&store.Entity{Location: loc, ID: fmt.Sprintf("c%d", i), Kind: occi.ComputeKindID, Mixins: []string{occi.OSTplMixinID}, Provider: "dummy",
					Attributes: map[string]any{"occi.compute.cores": float64(2)}},
				&store.Entity{Location: fmt.Sprintf("/link/l%d", i), ID: fmt.Sprintf("l%d", i), Kind: occi.NetworkInterfaceID, Provider: "dummy",
					Source: &occi.LinkEnd{Location: loc}, Target: &occi.LinkEnd{Location: "/network/n"}})
		}
		for _, e := range append(es, extra...) {
			if err := tx.Put(e); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

func admin(t *testing.T, args ...string) (stdout string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	handled, err := runAdmin(context.Background(), args, &out, &errOut)
	if !handled {
		t.Fatalf("runAdmin(%q) not handled", args)
	}
	return out.String(), err
}

func TestRunAdminLeavesOtherArgumentsToTheServer(t *testing.T) {
	for _, args := range [][]string{nil, {}, {"-listen", "127.0.0.1:0"}, {"serve"}, {"checkup"}} {
		handled, err := runAdmin(context.Background(), args, io.Discard, io.Discard)
		if handled || err != nil {
			t.Errorf("runAdmin(%q) = %v, %v; want not handled", args, handled, err)
		}
	}
}

func TestAdminCheck(t *testing.T) {
	sound := func(t *testing.T) string { return adminDataFile(t, 20) }
	tests := []struct {
		name    string
		args    func(t *testing.T) []string
		wantOut []string // in the report
		wantErr string   // "" for success
	}{
		{
			name:    "a sound file",
			args:    func(t *testing.T) []string { return []string{"-data", sound(t)} },
			wantOut: []string{"21 resources, 20 links", "no problem found"},
		},
		{
			name: "the data file named by the configuration",
			args: func(t *testing.T) []string {
				cfg := filepath.Join(t.TempDir(), "ocnid.yaml")
				if err := os.WriteFile(cfg, []byte("data: "+sound(t)+"\n"), 0o600); err != nil {
					t.Fatal(err)
				}
				return []string{"-config", cfg}
			},
			wantOut: []string{"no problem found"},
		},
		{
			name: "broken invariants",
			args: func(t *testing.T) []string {
				return []string{"-data", adminDataFile(t, 3,
					&store.Entity{Location: "/thing/x", ID: "x", Kind: "http://example.org/x#thing", Provider: "dummy"},
					&store.Entity{Location: "/link/dangling", ID: "d", Kind: occi.NetworkInterfaceID, Provider: "dummy",
						Source: &occi.LinkEnd{Location: "/compute/gone"}, Target: &occi.LinkEnd{Location: "/network/n"}})}
			},
			wantOut: []string{
				"2 problems found",
				`entities /thing/x: kind "http://example.org/x#thing" is not registered`,
				"entities /link/dangling: its source /compute/gone does not exist",
			},
			wantErr: "2 problems found in ",
		},
		{
			name: "a truncated file",
			args: func(t *testing.T) []string {
				path := sound(t)
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				if err := os.Truncate(path, fi.Size()/2); err != nil {
					t.Fatal(err)
				}
				return []string{"-data", path}
			},
			wantOut: []string{"page structure: the file is truncated"},
			wantErr: "is damaged: restore it from a backup made with `ocnid backup`, or move it away",
		},
		{
			name: "no data file",
			args: func(t *testing.T) []string {
				return []string{"-data", filepath.Join(t.TempDir(), "none.db")}
			},
			wantErr: "no such file",
		},
		{
			name:    "extra arguments",
			args:    func(t *testing.T) []string { return []string{"-data", sound(t), "more"} },
			wantErr: "unexpected arguments: more",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args(t)
			out, err := admin(t, append([]string{"check"}, args...)...)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("check: %v\n%s", err, out)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("check: %v, want an error with %q\n%s", err, tt.wantErr, out)
			}
			for _, want := range tt.wantOut {
				if !strings.Contains(out, want) {
					t.Errorf("the report does not say %q:\n%s", want, out)
				}
			}
		})
	}
	t.Run("a missing file is not created", func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "none.db")
		_, _ = admin(t, "check", "-data", path)
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Errorf("check created %s", path)
		}
	})
}

// A running server holds its file: check and backup say what to do
// instead, and the server's backup endpoint gives a copy that checks.
func TestAdminBesideARunningServer(t *testing.T) {
	path := adminDataFile(t, 20)
	db, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = db.Close() }()

	_, err = admin(t, "check", "-data", path)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "stop the server") || !strings.Contains(err.Error(), backupEndpoint) {
		t.Errorf("check beside a server: %v", err)
	}
	dest := filepath.Join(t.TempDir(), "copy.db")
	_, err = admin(t, "backup", "-data", path, dest)
	if !errors.Is(err, store.ErrLocked) || !strings.Contains(err.Error(), "curl -fo "+dest) || !strings.Contains(err.Error(), backupEndpoint) {
		t.Errorf("backup beside a server: %v", err)
	}

	mux := http.NewServeMux()
	mux.Handle(backupEndpoint, store.BackupHandler(db))
	srv := httptest.NewServer(mux)
	defer srv.Close()
	resp, err := http.Get(srv.URL + backupEndpoint)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s, %v", backupEndpoint, resp.Status, err)
	}
	if err := os.WriteFile(dest, body, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := admin(t, "check", "-data", dest)
	if err != nil || !strings.Contains(out, "21 resources, 20 links") {
		t.Errorf("check of the downloaded copy: %v\n%s", err, out)
	}
}

func TestAdminBackup(t *testing.T) {
	path := adminDataFile(t, 20)
	dest := filepath.Join(t.TempDir(), "copy.db")
	out, err := admin(t, "backup", "-data", path, dest)
	if err != nil || !strings.Contains(out, "backed up "+path+" to "+dest) {
		t.Fatalf("backup: %v\n%s", err, out)
	}
	if out, err := admin(t, "check", "-data", dest); err != nil {
		t.Errorf("check of the copy: %v\n%s", err, out)
	}
	// A second backup replaces the first.
	if _, err := admin(t, "backup", "-data", path, dest); err != nil {
		t.Errorf("backup over an older copy: %v", err)
	}

	for _, tt := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"onto the data file itself", []string{"-data", path, path}, "is the live data file"},
		{"no destination", []string{"-data", path}, "want one destination file"},
		{"two destinations", []string{"-data", path, dest, dest}, "want one destination file"},
		{"no data file", []string{"-data", filepath.Join(t.TempDir(), "none.db"), dest}, "no such file"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := admin(t, append([]string{"backup"}, tt.args...)...)
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("backup: %v, want an error with %q", err, tt.wantErr)
			}
		})
	}
	if out, err := admin(t, "check", "-data", path); err != nil {
		t.Errorf("the data file after the refused backups: %v\n%s", err, out)
	}
}
