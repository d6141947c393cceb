package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ocni/ocni/occi"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ocnid.yaml")
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaults(t *testing.T) {
	cfg, err := parseFlags(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8090" || cfg.Data != "./data/ocni.db" || cfg.BodyLimit != 1<<20 {
		t.Errorf("defaults: %+v", cfg)
	}
	for _, k := range infrastructureKinds {
		if cfg.Bindings[k] != "dummy" {
			t.Errorf("%s bound to %q by default, want dummy", k, cfg.Bindings[k])
		}
	}
}

func TestConfigFile(t *testing.T) {
	path := writeFile(t, `
listen: 0.0.0.0:9000
data: /var/lib/ocni/ocni.db
body_limit: 2MiB
log_level: debug
providers:
  - name: lab
    driver: dummy
  - name: demo
    driver: dummy
    options: {latency: 10ms}
bindings:
  http://schemas.ogf.org/occi/infrastructure#compute: lab
`)
	cfg, err := parseFlags([]string{"-config", path, "-listen", "127.0.0.1:0"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:0" {
		t.Errorf("flag did not override the file: %s", cfg.Listen)
	}
	if cfg.DefaultProvider != "lab" {
		t.Errorf("default_provider = %q, want the first provider, lab", cfg.DefaultProvider)
	}
	if cfg.Data != "/var/lib/ocni/ocni.db" || cfg.BodyLimit != 2<<20 || cfg.LogLevel != "debug" {
		t.Errorf("file values: %+v", cfg)
	}
	if len(cfg.Bindings) != 1 || cfg.Bindings[occi.ComputeKindID] != "lab" {
		t.Errorf("bindings %v: explicit bindings replace the defaults", cfg.Bindings)
	}
	if cfg.Providers[1].Options["latency"] != "10ms" {
		t.Errorf("driver options lost: %+v", cfg.Providers[1])
	}

	// Without bindings, the infrastructure kinds go to the first provider.
	cfg, err = parseFlags([]string{"-config", writeFile(t, "providers: [{name: lab, driver: dummy}]\n")}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bindings[occi.StorageKindID] != "lab" {
		t.Errorf("default bindings with one provider lab: %v", cfg.Bindings)
	}
}

func TestConfigErrors(t *testing.T) {
	tests := []struct {
		name, file string
		args       []string
		want       string
	}{
		{name: "unknown key", file: "listn: x\n", want: "listn"},
		{name: "bad YAML", file: "listen: [\n", want: "config"},
		{name: "bad listen", file: "listen: nowhere\n", want: "listen"},
		{name: "bad body limit", file: "body_limit: lots\n", want: "lots"},
		{name: "zero body limit", file: "body_limit: 0\n", want: "body_limit"},
		{name: "bad log level", file: "log_level: loud\n", want: "log_level"},
		{name: "no providers", file: "providers: []\n", want: "at least one provider"},
		{name: "provider without name", file: "providers: [{driver: dummy}]\n", want: "name is empty"},
		{name: "duplicate provider", file: "providers: [{name: a, driver: dummy}, {name: a, driver: dummy}]\n", want: "used twice"},
		{name: "unknown driver", file: "providers: [{name: a, driver: vmware}]\n", want: `unknown driver "vmware"`},
		{name: "binding to nobody", file: "bindings: {'http://schemas.ogf.org/occi/infrastructure#compute': aws}\n", want: `"aws", which is not a configured provider`},
		{name: "binding a malformed kind", file: "bindings: {compute: dummy}\n", want: "compute"},
		{name: "missing file", args: []string{"-config", "/nonexistent/ocnid.yaml"}, want: "no such file"},
		{name: "stray argument", args: []string{"serve"}, want: "unexpected arguments"},
		{name: "bad flag size", args: []string{"-body-limit", "-1"}, want: "body-limit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			args := tt.args
			if tt.file != "" {
				args = append([]string{"-config", writeFile(t, tt.file)}, args...)
			}
			_, err := parseFlags(args, io.Discard)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want one containing %q", err, tt.want)
			}
		})
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]ByteSize{"1024": 1024, "1KiB": 1024, "1 MiB": 1 << 20, "3GiB": 3 << 30, "2KB": 2000, "5MB": 5e6, "7B": 7} {
		if got, err := ParseByteSize(in); err != nil || got != want {
			t.Errorf("ParseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "x", "-1", "1.5MiB", "1TiB", "99999999999GiB"} {
		if _, err := ParseByteSize(in); err == nil {
			t.Errorf("ParseByteSize(%q) accepted", in)
		}
	}
}

// syncBuffer is a bytes.Buffer safe for the server's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startServer runs ocnid in-process until the test ends or stop is called.
func startServer(t *testing.T, data string) (addr string, stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	logs := &syncBuffer{}
	go func() { done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-data", data}, logs, ready) }()
	select {
	case addr = <-ready:
	case err := <-done:
		t.Fatalf("ocnid did not start: %v\n%s", err, logs)
	case <-time.After(10 * time.Second):
		t.Fatal("ocnid did not start in 10s")
	}
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ocnid: %v", err)
		}
		if !strings.Contains(logs.String(), `"msg":"stopped"`) {
			t.Errorf("no clean shutdown in the log:\n%s", logs)
		}
	}
	t.Cleanup(stop)
	return addr, stop
}

// Categories registered at runtime are there after the process restarts
// on the same data file.
func TestRestartKeepsCategories(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data", "ocni.db")
	addr, stop := startServer(t, data)
	body := `{"mixins":[{"scheme":"http://example.com/occi/tags#","term":"gold","location":"/tags/gold/"}]}`
	res, err := http.Post("http://"+addr+"/-/", "application/occi+json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 200 {
		t.Fatalf("POST /-/: %d", res.StatusCode)
	}
	stop()

	addr, _ = startServer(t, data)
	res, err = http.Get("http://" + addr + "/-/?category=http://example.com/occi/tags%23gold")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	got, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(got), `"location":"/tags/gold/"`) {
		t.Errorf("after restart: %d %s", res.StatusCode, got)
	}
}

func TestSecondServerOnSameDataFileFails(t *testing.T) {
	data := filepath.Join(t.TempDir(), "ocni.db")
	startServer(t, data)
	err := run(context.Background(), []string{"-listen", "127.0.0.1:0", "-data", data}, io.Discard, nil)
	if err == nil || !strings.Contains(err.Error(), "locked by another process") {
		t.Errorf("second ocnid on the same file: %v", err)
	}
}

// The real binary stops cleanly on SIGTERM, exit status 0.
func TestSIGTERM(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	dir := t.TempDir()
	bin := buildBinary(t)
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "ocni.db"))
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "ocnid started") {
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("not started:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v\n%s", err, logs)
	}
	if !strings.Contains(logs.String(), `"msg":"stopped"`) {
		t.Errorf("no clean shutdown:\n%s", logs)
	}
}

func TestExampleConfig(t *testing.T) {
	cfg, err := parseFlags([]string{"-config", filepath.Join("..", "..", "examples", "ocnid.yaml")}, io.Discard)
	if err != nil {
		t.Fatalf("examples/ocnid.yaml: %v", err)
	}
	want := DefaultConfig()
	if cfg.Listen != want.Listen || cfg.Data != want.Data || cfg.BodyLimit != want.BodyLimit || len(cfg.Providers) != 2 {
		t.Errorf("examples/ocnid.yaml drifted from the defaults it documents: %+v", cfg)
	}
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// buildBinary builds ocnid once for the tests that run it as a process.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ocnid-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "ocnid")
		if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("build: %w\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// startProcess runs the ocnid binary with a config file and waits until it
// serves; it returns the address and the running command.
func startProcess(t *testing.T, config string) (string, *exec.Cmd, *syncBuffer) {
	t.Helper()
	logs := &syncBuffer{}
	cmd := exec.Command(buildBinary(t), "-config", config, "-listen", "127.0.0.1:0")
	cmd.Stderr = logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	deadline := time.Now().Add(10 * time.Second)
	for {
		if m := listenRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1], cmd, logs
		}
		if time.Now().After(deadline) {
			t.Fatalf("ocnid did not start:\n%s", logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

var listenRE = regexp.MustCompile(`"msg":"ocnid started".*"listen":"([^"]+)"`)

// The process dies right after the VIM created a compute and before the
// store committed it (the dummy's exit_after): at the next start the
// compute is adopted, with exactly one object on the VIM and no
// half-written entity.
func TestCrashBetweenVIMAndCommit(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	dir := t.TempDir()
	vim := filepath.Join(dir, "vim.json")
	config := func(extra string) string {
		p := filepath.Join(dir, "ocnid.yaml")
		body := fmt.Sprintf("data: %s\nproviders:\n  - name: dummy\n    driver: dummy\n    options: {state_file: %s%s}\n", filepath.Join(dir, "ocni.db"), vim, extra)
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	addr, cmd, logs := startProcess(t, config(", exit_after: [create]"))
	body := `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","id":"vm1","attributes":{"occi.compute.cores":3}}`
	res, err := http.Post("http://"+addr+"/compute/", "application/occi+json", strings.NewReader(body))
	if err == nil {
		_ = res.Body.Close()
		t.Fatalf("the create was answered (%d) though the process should have died", res.StatusCode)
	}
	if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "exit status 3") {
		t.Fatalf("ocnid ended with %v, want exit status 3\n%s", err, logs)
	}

	addr, _, logs = startProcess(t, config(""))
	if !strings.Contains(logs.String(), `"adopted":["/compute/vm1"]`) {
		t.Errorf("recovery did not report the adoption:\n%s", logs)
	}
	res, err = http.Get("http://" + addr + "/compute/vm1")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(got), `"occi.compute.cores":3`) || !strings.Contains(string(got), `"occi.compute.state":"active"`) {
		t.Errorf("adopted compute: %d %s", res.StatusCode, got)
	}
	state, err := os.ReadFile(vim)
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(state), `"location"`); n != 1 {
		t.Errorf("the VIM holds %d objects, want 1: %s", n, state)
	}
}

func TestDebugListener(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	debug := "127.0.0.1:0"
	// Find a free port for the debug listener.
	if l, err := net.Listen("tcp", debug); err == nil {
		debug = l.Addr().String()
		_ = l.Close()
	}
	go func() {
		done <- run(ctx, []string{"-listen", "127.0.0.1:0", "-data", filepath.Join(dir, "ocni.db"), "-debug-listen", debug}, io.Discard, ready)
	}()
	select {
	case <-ready:
	case err := <-done:
		t.Fatal(err)
	}
	res, err := http.Get("http://" + debug + "/debug/pprof/goroutine?debug=1")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.Contains(string(body), "goroutine profile: total") {
		t.Errorf("debug listener: %d %.200s", res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Error(err)
	}
}

// -h prints the usage and succeeds, -version prints the version, an unknown
// flag fails; the start-up log names each provider with its options.
func TestCommandLine(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	bin := buildBinary(t)
	out, err := exec.Command(bin, "-h").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "Usage: ocnid") || !strings.Contains(string(out), "ocnid check") {
		t.Errorf("ocnid -h: %v\n%s", err, out)
	}
	out, err = exec.Command(bin, "-version").Output()
	if err != nil || !strings.HasPrefix(string(out), "ocnid ") {
		t.Errorf("ocnid -version: %v %q", err, out)
	}
	if out, err := exec.Command(bin, "-bogus").CombinedOutput(); err == nil || !strings.Contains(string(out), "-bogus") {
		t.Errorf("ocnid -bogus: %v %q", err, out)
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "ocnid.yaml")
	if err := os.WriteFile(config, []byte("data: "+filepath.Join(dir, "ocni.db")+"\nproviders:\n  - name: lab\n    driver: dummy\n    options: {latency: 1ms}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, _, logs := startProcess(t, config)
	if l := logs.String(); !strings.Contains(l, `"msg":"provider","name":"lab","driver":"dummy","options":"latency=1ms`) {
		t.Errorf("the start-up log does not describe the provider:\n%s", l)
	}
}

func TestPublicURLConfig(t *testing.T) {
	for _, tt := range []struct {
		value string
		ok    bool
	}{
		{"https://occi.example.net", true},
		{"http://127.0.0.1:8090/", true},
		{"ftp://x", false},
		{"https://occi.example.net/base", false},
		{"https://user:pw@occi.example.net", false},
		{"occi.example.net", false},
	} {
		cfg := DefaultConfig()
		cfg.PublicURL = tt.value
		if err := cfg.Validate(); (err == nil) != tt.ok {
			t.Errorf("public_url %q: %v", tt.value, err)
		}
	}
}

// The default dummy offers OS templates, so that `make run` looks like a
// small cloud: they are in the query interface, and a compute is made from
// one.
func TestDefaultDummyTemplates(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "ocnid.yaml")
	if err := os.WriteFile(config, []byte("data: "+filepath.Join(dir, "ocni.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := startProcess(t, config)
	res, err := http.Get("http://" + addr + "/-/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	_ = res.Body.Close()
	for _, img := range []string{"debian-12", "ubuntu-24.04", "alpine-3.20"} {
		if !strings.Contains(string(body), `"term":"`+img+`"`) || !strings.Contains(string(body), `"/templates/dummy/os/`+img+`/"`) {
			t.Errorf("the query interface has no template %s", img)
		}
	}
	res, err = http.Post("http://"+addr+"/compute/", "application/occi+json", strings.NewReader(
		`{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","id":"vm1","mixins":["http://schemas.ocni.org/dummy/dummy/os_tpl#debian-12"]}`))
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	if res.StatusCode != 201 {
		t.Fatalf("create from a template: %s", res.Status)
	}
	res, err = http.Get("http://" + addr + "/templates/dummy/os/debian-12/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	_ = res.Body.Close()
	if !strings.Contains(string(body), `"id":"vm1"`) {
		t.Errorf("the template's members: %s", body)
	}
}

func TestIndexConfig(t *testing.T) {
	cfg := DefaultConfig()
	cfg.IndexedAttributes = []string{"occi.compute.hostname", "com.example.rack"}
	cfg.ScanBudget = 500
	if err := cfg.Validate(); err != nil {
		t.Errorf("valid index settings: %v", err)
	}
	cfg.IndexedAttributes = []string{"not an attribute"}
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "indexed_attributes") {
		t.Errorf("an invalid indexed attribute: %v", err)
	}
	cfg = DefaultConfig()
	cfg.ScanBudget = -1
	if err := cfg.Validate(); err == nil || !strings.Contains(err.Error(), "scan_budget") {
		t.Errorf("a negative scan budget: %v", err)
	}
}
