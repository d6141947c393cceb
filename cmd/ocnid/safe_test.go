package main

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// consoleCommand is a "$ curl ..." line of a console block (continuation
// lines joined) and the output written under it.
type consoleCommand struct {
	line            int
	command, output string
}

// sectionCommands reads the console commands of one top-level section of
// README.rst. TestREADMESession runs the other sections' curl commands
// against an open server; these need the safe example's.
func sectionCommands(t *testing.T, title string) []consoleCommand {
	t.Helper()
	f, err := os.Open(filepath.Join("..", "..", "README.rst"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var out []consoleCommand
	in := false
	for i := 0; i < len(lines); i++ {
		line := strings.TrimSpace(lines[i])
		heading := i+1 < len(lines) && line != "" && strings.HasPrefix(lines[i+1], "===")
		switch {
		case heading && line == title:
			in = true
		case heading:
			in = false
		case in && strings.HasPrefix(line, "$ curl "):
			c := consoleCommand{line: i + 1, command: strings.TrimPrefix(line, "$ ")}
			for strings.HasSuffix(c.command, "\\") && i+1 < len(lines) {
				i++
				c.command = strings.TrimSuffix(c.command, "\\") + " " + strings.TrimSpace(lines[i])
			}
			if i+1 < len(lines) {
				i++
				c.output = strings.TrimSpace(lines[i])
			}
			out = append(out, c)
		}
	}
	return out
}

// TestSafeExample starts ocnid with examples/safe/ocnid.yaml and runs the
// requests "Running ocnid safely" shows, checking the statuses it says.
func TestSafeExample(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatal("curl is needed to replay the README (make test-deps installs it)")
	}
	root, _ := filepath.Abs(filepath.Join("..", ".."))
	example, err := os.ReadFile(filepath.Join(root, "examples", "safe", "ocnid.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	body := strings.Replace(string(example), "data: ./data/ocni.db", "data: "+filepath.Join(dir, "ocni.db"), 1)
	// The example names its files from the repository's root, as make run
	// does; the process runs from this package's folder.
	body = strings.ReplaceAll(body, " examples/safe/", " "+filepath.Join(root, "examples", "safe")+"/")
	config := filepath.Join(dir, "ocnid.yaml")
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, logs := startProcess(t, config)
	cmds := sectionCommands(t, "Running ocnid safely")
	if len(cmds) < 8 {
		t.Fatalf("found only %d commands in README.rst's Running ocnid safely", len(cmds))
	}
	statuses := map[string]bool{}
	for _, c := range cmds {
		cmd := exec.Command("bash", "-c", strings.ReplaceAll(c.command, "127.0.0.1:8090", addr))
		cmd.Dir = root
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("README.rst:%d: %v\n%s", c.line, err, out)
		}
		if got := strings.TrimSpace(string(out)); got != c.output {
			t.Errorf("README.rst:%d: %s\nanswered %s, the README says %s", c.line, c.command, got, c.output)
		}
		statuses[c.output] = true
	}
	for _, s := range []string{"401", "200", "403", "421"} {
		if !statuses[s] {
			t.Errorf("the section shows no %s", s)
		}
	}
	if !strings.Contains(logs.String(), `"user":"alice"`) || !strings.Contains(logs.String(), `"user":"monitoring"`) {
		t.Errorf("the log does not name the users:\n%s", logs)
	}
}
