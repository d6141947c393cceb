package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

type readmeCommand struct {
	line    int
	command string
	expect  int // the status class expected: 2 or 4
}

// readmeCommands extracts the curl commands of README.rst's code blocks,
// with continuation lines joined. A comment saying "(expect 4xx)" or
// "(expect 400)" before a command marks it as a deliberate mistake.
func readmeCommands(t *testing.T) []readmeCommand {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.rst"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []readmeCommand
	expect := 2
	sc := bufio.NewScanner(f)
	n := 0
	var cur *readmeCommand
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		switch {
		case cur != nil:
			cur.command += " " + strings.TrimSuffix(line, "\\")
			if !strings.HasSuffix(line, "\\") {
				out = append(out, *cur)
				cur = nil
			}
		case strings.HasPrefix(line, "#"):
			expect = 2
			if strings.Contains(line, "(expect 4") {
				expect = 4
			}
		case strings.HasPrefix(line, "curl "):
			c := readmeCommand{line: n, command: strings.TrimSuffix(line, "\\"), expect: expect}
			if strings.HasSuffix(line, "\\") {
				cur = &c
			} else {
				out = append(out, c)
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

var statusRE = regexp.MustCompile(`(\d{3})$`)

// TestREADMESession runs the README's curl sessions, as written, against
// the ocnid binary started with examples/ocnid.yaml: documentation that
// does not work is a failing test.
func TestREADMESession(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to replay the README (make test-deps installs it)")
	}
	dir := t.TempDir()
	example, err := os.ReadFile(filepath.Join("..", "..", "examples", "ocnid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	config := filepath.Join(dir, "ocnid.yaml")
	body := strings.Replace(string(example), "data: ./data/ocni.db", "data: "+filepath.Join(dir, "ocni.db"), 1)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, _ := startProcess(t, config)
	cmds := readmeCommands(t)
	if len(cmds) < 30 {
		t.Fatalf("found only %d curl commands in README.rst", len(cmds))
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	for _, c := range cmds {
		command := strings.ReplaceAll(c.command, "127.0.0.1:8090", addr) + ` -o /dev/null -w '%{http_code}'`
		cmd := exec.Command("bash", "-c", command)
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README.rst:%d: %v\n%s", c.line, err, out)
		}
		m := statusRE.FindStringSubmatch(strings.TrimSpace(string(out)))
		if m == nil {
			t.Fatalf("README.rst:%d: no status in %q", c.line, out)
		}
		status, _ := strconv.Atoi(m[1])
		if status/100 != c.expect {
			t.Errorf("README.rst:%d: status %d, want %dxx: %s", c.line, status, c.expect, c.command)
		}
	}
}
