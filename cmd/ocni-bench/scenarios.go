package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"runtime"
	"strings"
	"sync"
)

var scenarioNames = []string{"get", "query", "page", "create", "update", "action", "mixed"}

const computeKind = "http://schemas.ogf.org/occi/infrastructure#compute"

func numCPU() int { return runtime.NumCPU() }

// preload creates n computes with c clients and returns their locations.
func preload(client *http.Client, addr string, n, c int) ([]string, error) {
	locs := make([]string, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	next := make(chan int)
	for range c {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := fmt.Sprintf(`{"kind":%q,"id":"bench-%06d","mixins":["http://schemas.ogf.org/occi/infrastructure/resource_tpl#small"],"title":"bench %d"}`, computeKind, i, i)
				res, err := client.Post("http://"+addr+"/compute/", "application/occi+json", strings.NewReader(body))
				if err == nil {
					_, _ = io.Copy(io.Discard, res.Body)
					_ = res.Body.Close()
					if res.StatusCode != http.StatusCreated {
						err = fmt.Errorf("create %d: status %d", i, res.StatusCode)
					}
				}
				mu.Lock()
				if err != nil && firstErr == nil {
					firstErr = err
				}
				locs[i] = fmt.Sprintf("/compute/bench-%06d", i)
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	return locs, firstErr
}

// scenario returns the request maker of a scenario. Writes that target one
// entity use entities owned by the worker, so that two workers never race
// for one entity (the server would rightly answer 409).
func scenario(name, addr string, locs []string, clients int) func(worker, i int) (*http.Request, error) {
	base := "http://" + addr
	owned := func(worker, i int) string {
		per := len(locs) / clients
		if per == 0 {
			return locs[i%len(locs)]
		}
		return locs[worker*per+i%per]
	}
	post := func(url string, body []byte) (*http.Request, error) {
		req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
		if err == nil {
			req.Header.Set("Content-Type", "application/occi+json")
		}
		return req, err
	}
	get := func(url string) (*http.Request, error) { return http.NewRequest(http.MethodGet, url, nil) }
	switch name {
	case "get":
		return func(_, i int) (*http.Request, error) { return get(base + locs[i%len(locs)]) }
	case "query":
		return func(int, int) (*http.Request, error) { return get(base + "/-/") }
	case "page":
		pages := max(1, len(locs)/50)
		return func(_, i int) (*http.Request, error) {
			return get(fmt.Sprintf("%s/compute/?page=%d&number=50", base, 1+i%pages))
		}
	case "create":
		body, _ := json.Marshal(map[string]any{"kind": computeKind, "title": "created under load",
			"attributes": map[string]any{"occi.compute.cores": 2, "occi.compute.memory": 4}})
		return func(int, int) (*http.Request, error) { return post(base+"/compute/", body) }
	case "update":
		return func(w, i int) (*http.Request, error) {
			body := fmt.Sprintf(`{"kind":%q,"attributes":{"occi.compute.hostname":"h%d-%d.example.com"}}`, computeKind, w, i)
			return post(base+owned(w, i), []byte(body))
		}
	case "action":
		// Each worker walks its entities twice per cycle: stop on the
		// first pass, start on the second, so every action is valid.
		per := max(1, len(locs)/clients)
		return func(w, i int) (*http.Request, error) {
			action := "stop"
			if (i/per)%2 == 1 {
				action = "start"
			}
			return post(base+owned(w, i)+"?action="+action, nil)
		}
	case "mixed":
		read, write := scenario("get", addr, locs, clients), scenario("update", addr, locs, clients)
		return func(w, i int) (*http.Request, error) {
			if i%5 == 4 {
				return write(w, i)
			}
			return read(w, i)
		}
	}
	panic("unknown scenario " + name)
}
