package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestKill9Durability creates entities from several clients, kills ocnid
// with SIGKILL at random moments, restarts it on the same data file, and
// checks that every create that was answered 201 is there with its
// attributes, that nothing is half-written, and that the VIM holds exactly
// the entities the store holds. OCNI_CRASH_ROUNDS sets the number of kills
// (make crashtest runs many; CI a few).
func TestKill9Durability(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	rounds := 3
	if v, err := strconv.Atoi(os.Getenv("OCNI_CRASH_ROUNDS")); err == nil && v > 0 {
		rounds = v
	}
	dir := t.TempDir()
	vim := filepath.Join(dir, "vim.json")
	config := filepath.Join(dir, "ocnid.yaml")
	body := fmt.Sprintf("data: %s\nproviders:\n  - name: dummy\n    driver: dummy\n    options: {state_file: %s}\n", filepath.Join(dir, "ocni.db"), vim)
	if err := os.WriteFile(config, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	acked := map[string]string{} // location → title
	var mu sync.Mutex
	client := &http.Client{Timeout: 5 * time.Second}
	total, failed := 0, 0
	for round := range rounds {
		addr, cmd, logs := startProcess(t, config)
		verify(t, client, addr, acked, vim, logs)
		stop := make(chan struct{})
		var wg sync.WaitGroup
		for w := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; ; i++ {
					select {
					case <-stop:
						return
					default:
					}
					title := fmt.Sprintf("r%d-w%d-%d", round, w, i)
					res, err := client.Post("http://"+addr+"/compute/", "application/occi+json",
						strings.NewReader(`{"kind":"http://schemas.ogf.org/occi/infrastructure#compute","title":"`+title+`","attributes":{"occi.compute.cores":2}}`))
					mu.Lock()
					total++
					if err != nil {
						failed++
						mu.Unlock()
						continue
					}
					if res.StatusCode == 201 {
						if _, loc, ok := strings.Cut(res.Header.Get("Location"), "/compute/"); ok {
							acked["/compute/"+loc] = title
						} else {
							t.Errorf("201 without a compute Location: %q", res.Header.Get("Location"))
						}
					} else {
						failed++
					}
					mu.Unlock()
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
				}
			}()
		}
		time.Sleep(time.Duration(150+rand.IntN(500)) * time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		close(stop)
		wg.Wait()
	}
	addr, _, logs := startProcess(t, config)
	verify(t, client, addr, acked, vim, logs)
	t.Logf("%d kills; %d creates sent, %d acknowledged, %d refused or cut short (the server was down or dying); every acknowledged one survived", rounds, total, len(acked), failed)
	fmt.Printf("crashtest: %d kills, %d creates acknowledged and all present after restart\n", rounds, len(acked))
}

// verify checks the store against what was acknowledged and against the VIM.
func verify(t *testing.T, client *http.Client, addr string, acked map[string]string, vimFile string, logs *syncBuffer) {
	t.Helper()
	res, err := client.Get("http://" + addr + "/compute/")
	if err != nil {
		t.Fatal(err)
	}
	var col struct {
		Resources []struct {
			ID         string         `json:"id"`
			Title      string         `json:"title"`
			Kind       string         `json:"kind"`
			Attributes map[string]any `json:"attributes"`
		} `json:"resources"`
	}
	err = json.NewDecoder(res.Body).Decode(&col)
	_ = res.Body.Close()
	if err != nil {
		t.Fatal(err)
	}
	have := map[string]string{}
	for _, r := range col.Resources {
		have["/compute/"+r.ID] = r.Title
		if r.Kind == "" || r.Attributes["occi.compute.cores"] != 2.0 || r.Attributes["occi.compute.state"] == nil {
			t.Errorf("half-written entity %s: %+v", r.ID, r)
		}
	}
	for loc, title := range acked {
		if have[loc] != title {
			t.Errorf("acknowledged %s (%s) is missing or changed after the restart: %q", loc, title, have[loc])
		}
	}
	raw, err := os.ReadFile(vimFile)
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	var state struct {
		Objects map[string]json.RawMessage `json:"objects"`
	}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &state); err != nil {
			t.Fatal(err)
		}
	}
	if len(state.Objects) != len(col.Resources) {
		t.Errorf("the VIM holds %d objects, the store %d entities\n%s", len(state.Objects), len(col.Resources), logs)
	}
}
