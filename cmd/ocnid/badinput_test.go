package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// badRequest is one file of testdata/bad: a comment line, a request line,
// headers, a blank line and the body. A body of the form "@name N" is
// generated (too big to check in).
type badRequest struct {
	file, note, method, path string
	header                   http.Header
	body                     []byte
}

func loadBadRequests(t *testing.T) []badRequest {
	t.Helper()
	files, err := filepath.Glob(filepath.Join("..", "..", "testdata", "bad", "*.http"))
	if err != nil {
		t.Fatal(err)
	}
	var out []badRequest
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		head, body, _ := bytes.Cut(raw, []byte("\n\n"))
		lines := strings.Split(string(head), "\n")
		if len(lines) < 2 || !strings.HasPrefix(lines[0], "# ") {
			t.Fatalf("%s: want a comment line, then a request line", f)
		}
		method, path, ok := strings.Cut(lines[1], " ")
		if !ok {
			t.Fatalf("%s: bad request line %q", f, lines[1])
		}
		r := badRequest{file: filepath.Base(f), note: lines[0][2:], method: method, path: path, header: http.Header{}, body: generate(t, body)}
		for _, h := range lines[2:] {
			k, v, _ := strings.Cut(h, ": ")
			r.header.Add(k, v)
		}
		out = append(out, r)
	}
	return out
}

func generate(t *testing.T, body []byte) []byte {
	t.Helper()
	if !bytes.HasPrefix(body, []byte("@")) {
		return body
	}
	name, arg, _ := strings.Cut(strings.TrimSpace(string(body[1:])), " ")
	n, err := strconv.Atoi(arg)
	if err != nil {
		t.Fatalf("generator %q: %v", body, err)
	}
	const compute = "http://schemas.ogf.org/occi/infrastructure#compute"
	switch name {
	case "nest":
		return []byte(`{"kind":"` + compute + `","attributes":{"com.example.x":` + strings.Repeat("[", n) + strings.Repeat("]", n) + `}}`)
	case "huge-hostname":
		return []byte(`{"kind":"` + compute + `","attributes":{"occi.compute.hostname":"` + strings.Repeat("h", n) + `"}}`)
	case "oversize":
		return []byte(`{"kind":"` + compute + `","title":"` + strings.Repeat("x", n) + `"}`)
	case "mixins":
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf(`"http://example.com/m#m%d"`, i)
		}
		return []byte(`{"kind":"` + compute + `","mixins":[` + strings.Join(ids, ",") + `]}`)
	case "register-mixins":
		ms := make([]string, n)
		for i := range ms {
			ms[i] = fmt.Sprintf(`{"scheme":"http://example.com/m#","term":"m%d","location":"/m/m%d/"}`, i, i)
		}
		ms[n-1] = `{"scheme":"http://example.com/m#","term":"nested","location":"/m/m1/inner/"}`
		return []byte(`{"mixins":[` + strings.Join(ms, ",") + `]}`)
	}
	t.Fatalf("unknown generator %q", name)
	return nil
}

// send writes a request as raw bytes, so that what a hostile client sends
// (bad UTF-8, odd paths, odd headers) reaches the server unchanged. The
// response's body is read and closed here.
func send(addr string, r badRequest) (*http.Response, []byte, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return nil, nil, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n", r.method, r.path, addr)
	for k, vs := range r.header {
		for _, v := range vs {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	fmt.Fprintf(&b, "Content-Length: %d\r\n\r\n", len(r.body))
	b.Write(r.body)
	// The server may answer (413) and close before the body is all sent:
	// write while reading, and judge by the answer.
	wrote := make(chan error, 1)
	go func() {
		_, err := conn.Write(b.Bytes())
		wrote <- err
	}()
	res, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if werr := <-wrote; werr != nil {
			return nil, nil, fmt.Errorf("%w (writing: %w)", err, werr)
		}
		return nil, nil, err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res, body, err
}

// TestBadInputCorpus replays testdata/bad against a live ocnid: every
// request gets a 4xx with a message, none a 5xx, and the server's state is
// the same afterwards.
func TestBadInputCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("runs ocnid as a process")
	}
	corpus := loadBadRequests(t)
	if len(corpus) < 100 {
		t.Fatalf("the corpus has %d requests, want at least 100", len(corpus))
	}
	dir := t.TempDir()
	config := filepath.Join(dir, "ocnid.yaml")
	if err := os.WriteFile(config, []byte("data: "+filepath.Join(dir, "ocni.db")+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	addr, _, logs := startProcess(t, config)
	base := "http://" + addr
	seed := []struct{ method, path, body string }{
		{"PUT", "/network/seednet", `{"kind":"http://schemas.ogf.org/occi/infrastructure#network"}`},
		{"PUT", "/network/other", `{"kind":"http://schemas.ogf.org/occi/infrastructure#network"}`},
		{"PUT", "/compute/seed", `{"kind":"http://schemas.ogf.org/occi/infrastructure#compute"}`},
		{"PUT", "/networkinterface/seednic", `{"kind":"http://schemas.ogf.org/occi/infrastructure#networkinterface","source":"/compute/seed","target":"/network/seednet","attributes":{"occi.networkinterface.interface":"eth0"}}`},
	}
	for _, s := range seed {
		req, _ := http.NewRequest(s.method, base+s.path, strings.NewReader(s.body))
		req.Header.Set("Content-Type", "application/occi+json")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = res.Body.Close()
		if res.StatusCode != 201 {
			t.Fatalf("seed %s: %d", s.path, res.StatusCode)
		}
	}
	state := func() string {
		var b strings.Builder
		for _, p := range []string{"/-/", "/", "/compute/seed", "/network/seednet", "/networkinterface/seednic"} {
			res, err := http.Get(base + p)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(res.Body)
			_ = res.Body.Close()
			fmt.Fprintf(&b, "%s %d %s\n", p, res.StatusCode, body)
		}
		return b.String()
	}
	before := state()
	counts := map[int]int{}
	for _, r := range corpus {
		res, body, err := send(addr, r) //nolint:bodyclose // send reads and closes the body
		if err != nil {
			t.Errorf("%s (%s): %v", r.file, r.note, err)
			continue
		}
		counts[res.StatusCode]++
		if os.Getenv("OCNI_BAD_VERBOSE") != "" {
			t.Logf("%s: %d %.160s", r.file, res.StatusCode, body)
		}
		var problem struct{ Message string }
		_ = jsonUnmarshal(body, &problem)
		switch {
		case res.StatusCode < 400 || res.StatusCode >= 500:
			t.Errorf("%s (%s): status %d, want a 4xx: %s", r.file, r.note, res.StatusCode, body)
		case problem.Message == "":
			t.Errorf("%s (%s): %d without a message: %s", r.file, r.note, res.StatusCode, body)
		}
	}
	if after := state(); after != before {
		t.Errorf("the corpus changed the server's state:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	if strings.Contains(logs.String(), `"msg":"panic"`) {
		t.Errorf("the server logged a panic:\n%s", logs)
	}
	t.Logf("%d bad requests replayed; statuses: %v", len(corpus), counts)
}

func jsonUnmarshal(b []byte, v any) error { return json.Unmarshal(b, v) }
