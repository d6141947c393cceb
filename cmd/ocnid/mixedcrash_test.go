package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKill9MixedOperations is the concurrency test with kill -9: clients mix
// every operation that can conflict (creates and deletes of link sources and
// targets, link creates, mixin associations, partial updates of one shared
// compute) while ocnid is killed at random moments and restarted. After the
// last restart the server is stopped and `ocnid check` must find the data
// file consistent (link ends, registered categories, indexes equal to the
// data), the VIM must hold what the store holds, and each client's last
// acknowledged update must be visible (or one it sent after it, whose answer
// the kill cut short). OCNI_CRASH_ROUNDS sets the number of kills.
func TestKill9MixedOperations(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("OCNI_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	const clients = 8
	dir := t.TempDir()
	data, vim, config := filepath.Join(dir, "ocni.db"), filepath.Join(dir, "vim.json"), filepath.Join(dir, "ocnid.yaml")
	body := fmt.Sprintf("data: %s\nlock_wait: 1\nproviders:\n  - name: dummy\n    driver: dummy\n    options: {state_file: %s, latency: 2ms}\n", data, vim)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	send := func(addr, method, path, body string) (int, string) {
		r, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		if body != "" {
			r.Header.Set("Content-Type", "application/occi+json")
		}
		res, err := client.Do(r)
		if err != nil {
			return 0, err.Error()
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b)
	}

	// The model: a tag mixin, and one attribute of the shared compute per
	// client.
	addr, cmd, logs := startProcess(t, config)
	attrs := map[string]any{}
	for c := range clients {
		attrs["com.example.client"+strconv.Itoa(c)] = map[string]any{"type": "string", "mutable": true}
	}
	model, _ := json.Marshal(map[string]any{"mixins": []any{
		map[string]any{"scheme": "http://example.com/occi#", "term": "tag", "location": "/tag/"},
		map[string]any{"scheme": "http://example.com/occi#", "term": "clients", "location": "/clients/", "attributes": attrs},
	}})
	if code, msg := send(addr, "POST", "/-/", string(model)); code != 200 {
		t.Fatalf("model: %d %s", code, msg)
	}
	if code, msg := send(addr, "PUT", "/compute/shared", `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","mixins":["http://example.com/occi#clients"]}`); code != 201 {
		t.Fatalf("shared compute: %d %s", code, msg)
	}

	// Per client: the last acknowledged value of its attribute, and the
	// values sent after it whose answers were lost.
	acked := make([]string, clients)
	unsure := make([][]string, clients)
	var mu sync.Mutex
	statuses := map[int]int{}
	for round := 0; round <= rounds; round++ {
		if round > 0 {
			addr, cmd, logs = startProcess(t, config)
		}
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for c := range clients {
			wg.Add(1)
			go func() {
				defer wg.Done()
				r := rand.New(rand.NewPCG(uint64(c), uint64(round)))
				name := func(prefix string) string { return prefix + strconv.Itoa(r.IntN(5)) }
				for n := 0; ; n++ {
					select {
					case <-stop:
						return
					default:
					}
					var code int
					switch r.IntN(8) {
					case 0:
						code, _ = send(addr, "PUT", "/compute/"+name("c"), `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`)
					case 1:
						code, _ = send(addr, "PUT", "/storage/"+name("s"), `{"kind":"http://schemas.ogf.org/occi/infrastructure#storage","attributes":{"occi.storage.size":1}}`)
					case 2:
						code, _ = send(addr, "POST", "/storagelink/", `{"kind":"http://schemas.ogf.org/occi/infrastructure#storagelink","source":{"location":"/compute/`+name("c")+`"},"target":{"location":"/storage/`+name("s")+`"},"attributes":{"occi.storagelink.deviceid":"vdb"}}`)
					case 3:
						code, _ = send(addr, "DELETE", pick(r, "/compute/"+name("c"), "/storage/"+name("s")), "")
					case 4:
						code, _ = send(addr, "POST", "/tag/", `["/compute/`+name("c")+`"]`)
					case 5:
						code, _ = send(addr, "DELETE", "/tag/", `["/compute/`+name("c")+`"]`)
					default:
						value := fmt.Sprintf("r%d-c%d-%d", round, c, n)
						mu.Lock()
						unsure[c] = append(unsure[c], value)
						mu.Unlock()
						code, _ = send(addr, "POST", "/compute/shared", `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","attributes":{"com.example.client`+strconv.Itoa(c)+`":"`+value+`"}}`)
						mu.Lock()
						switch {
						case code == 200:
							acked[c], unsure[c] = value, nil
						case code >= 400 && code < 500:
							unsure[c] = slices.DeleteFunc(unsure[c], func(v string) bool { return v == value })
						}
						mu.Unlock()
					}
					mu.Lock()
					statuses[code]++
					mu.Unlock()
					if code >= 500 && code != 503 {
						t.Errorf("a %d answer", code)
					}
				}
			}()
		}
		time.Sleep(time.Duration(300+rand.IntN(500)) * time.Millisecond)
		if round < rounds {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			_ = cmd.Wait()
		}
		close(stop)
		wg.Wait()
	}
	// The last server stays up long enough for its reconciler, then stops
	// cleanly so that `ocnid check` can open the file.
	code, out := send(addr, "GET", "/compute/shared", "")
	if code != 200 {
		t.Fatalf("shared compute after the kills: %d %s", code, out)
	}
	var shared struct {
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(out), &shared); err != nil {
		t.Fatal(err)
	}
	for c := range clients {
		got := fmt.Sprint(shared.Attributes["com.example.client"+strconv.Itoa(c)])
		if acked[c] != "" && got != acked[c] && !slices.Contains(unsure[c], got) {
			t.Errorf("client %d: attribute holds %q; acknowledged last %q, sent after it %v", c, got, acked[c], unsure[c])
		}
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Fatalf("ocnid did not stop cleanly: %v\n%s", err, logs)
	}
	var report bytes.Buffer
	check := exec.Command(buildBinary(t), "check", "-config", config)
	check.Stdout, check.Stderr = &report, &report
	if err := check.Run(); err != nil {
		t.Errorf("ocnid check after %d kills: %v\n%s", rounds, err, report.String())
	}
	t.Logf("%d kills; answers by status: %v", rounds, statuses)
	fmt.Printf("crashtest: %d kills under mixed operations, the data file checks clean\n", rounds)
}

func pick(r *rand.Rand, choices ...string) string { return choices[r.IntN(len(choices))] }
