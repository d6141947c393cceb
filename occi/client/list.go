package client

import (
	"context"
	"iter"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/ocni/ocni/occi"
	"github.com/ocni/ocni/renderers"
)

// ListOptions filter and page a listing. The zero value asks for the
// server's first page of everything.
type ListOptions struct {
	// Categories keeps the entities of these kinds or mixins (?category=).
	Categories []string
	// Attribute and Value keep the entities whose attribute equals the
	// value (?attribute=&value=).
	Attribute, Value string
	// Number is the size of a page (?number=); 0 lets the server choose.
	Number int
	// Page asks for a page by number, from 1 (?page=).
	Page int
	// After asks for the page after this location (?after=), a cursor.
	After string
}

// Page is one page of a listing.
type Page struct {
	// Entities are the entities of the page, when the rendering carries
	// them (JSON); their Location is empty, the rendering giving ids.
	Entities []*Entity
	// Locations are the page's entities' absolute URLs, when the
	// rendering lists locations (text/plain, text/occi, text/uri-list).
	Locations []string
	// Next is the URL of the next page, "" on the last: the server's
	// Link rel="next" (a cursor), or the next page number when the server
	// gives no link and the page asked for by number is full. Pass it to
	// List with zero ListOptions.
	Next string
}

// Len returns the number of entities on the page.
func (p *Page) Len() int { return max(len(p.Entities), len(p.Locations)) }

// List reads one page of a collection (a kind's or a mixin's location, or
// a path ending in "/"), or the page at a Page.Next URL.
func (c *Client) List(ctx context.Context, collection string, opts ListOptions) (*Page, error) {
	return c.list(ctx, collection, opts, "")
}

// ListLocations reads one page of a collection as locations only
// (text/uri-list), whatever the client's rendering.
func (c *Client) ListLocations(ctx context.Context, collection string, opts ListOptions) (*Page, error) {
	return c.list(ctx, collection, opts, renderers.URIListMediaType)
}

func (c *Client) list(ctx context.Context, collection string, opts ListOptions, accept string) (*Page, error) {
	u, err := c.listURL(collection, opts)
	if err != nil {
		return nil, err
	}
	a, err := c.do(ctx, call{method: http.MethodGet, url: u, accept: accept})
	if err != nil {
		return nil, err
	}
	p := &Page{}
	if a.isJSON() {
		var coll renderers.Collection
		if err := c.decode(a, &coll); err != nil {
			return nil, err
		}
		for _, r := range coll.Resources {
			p.Entities = append(p.Entities, &Entity{Resource: r})
		}
		for _, l := range coll.Links {
			p.Entities = append(p.Entities, &Entity{Link: l})
		}
	} else if p.Locations, err = c.locationsOf(a); err != nil {
		return nil, err
	}
	if next := nextLink(a); next != nil {
		p.Next = next.String()
	} else if page, _ := strconv.Atoi(u.Query().Get("page")); page > 0 {
		// A server that pages by number without links: a full page may
		// have a next one.
		if n, _ := strconv.Atoi(u.Query().Get("number")); n > 0 && p.Len() >= n {
			q := u.Query()
			q.Set("page", strconv.Itoa(page+1))
			nu := *u
			nu.RawQuery = q.Encode()
			p.Next = nu.String()
		}
	}
	return p, nil
}

func (a *answer) isJSON() bool {
	ct := strings.ToLower(a.header.Get("Content-Type"))
	return strings.HasPrefix(ct, renderers.JSONMediaType) || strings.HasPrefix(ct, "application/json")
}

// listURL is the collection's URL with the options' parameters added to
// those it has (a next-page URL keeps its own).
func (c *Client) listURL(collection string, opts ListOptions) (*url.URL, error) {
	u, err := c.resolve(collection)
	if err != nil {
		return nil, err
	}
	q := u.Query()
	for _, id := range opts.Categories {
		q.Add("category", id)
	}
	if opts.Attribute != "" {
		q.Set("attribute", opts.Attribute)
		q.Set("value", opts.Value)
	}
	if opts.Number < 0 || opts.Page < 0 {
		return nil, occi.Errorf(occi.InvalidArgument, "a page number and size are positive")
	}
	if opts.Number > 0 {
		q.Set("number", strconv.Itoa(opts.Number))
	}
	if opts.Page > 0 {
		q.Set("page", strconv.Itoa(opts.Page))
	}
	if opts.After != "" {
		after, err := c.bodyLocation(opts.After)
		if err != nil {
			return nil, err
		}
		q.Set("after", after)
	}
	out := *u
	out.RawQuery = q.Encode()
	return &out, nil
}

// All walks every page of a listing, yielding each entity. With a
// rendering that lists locations only (text/plain), each entity is read
// with Get, so that it comes with its Location. The walk stops at the
// first error, which it yields.
func (c *Client) All(ctx context.Context, collection string, opts ListOptions) iter.Seq2[*Entity, error] {
	return func(yield func(*Entity, error) bool) {
		for p, err := range c.pages(ctx, collection, opts, "") {
			if err != nil {
				yield(nil, err)
				return
			}
			for _, e := range p.Entities {
				if !yield(e, nil) {
					return
				}
			}
			for _, loc := range p.Locations {
				e, err := c.Get(ctx, loc)
				if !yield(e, err) || err != nil {
					return
				}
			}
		}
	}
}

// AllLocations walks every page of a listing as locations (text/uri-list).
func (c *Client) AllLocations(ctx context.Context, collection string, opts ListOptions) iter.Seq2[string, error] {
	return func(yield func(string, error) bool) {
		for p, err := range c.pages(ctx, collection, opts, renderers.URIListMediaType) {
			if err != nil {
				yield("", err)
				return
			}
			for _, loc := range p.Locations {
				if !yield(loc, nil) {
					return
				}
			}
		}
	}
}

func (c *Client) pages(ctx context.Context, collection string, opts ListOptions, accept string) iter.Seq2[*Page, error] {
	return func(yield func(*Page, error) bool) {
		p, err := c.list(ctx, collection, opts, accept)
		for range maxRepeats {
			if !yield(p, err) || err != nil || p.Next == "" || p.Len() == 0 {
				return
			}
			p, err = c.list(ctx, p.Next, ListOptions{}, accept)
		}
	}
}

// nextLink finds the URL of a Link header field's rel="next" link,
// resolved against the request's URL; nil when there is none.
func nextLink(a *answer) *url.URL {
	for _, field := range a.header.Values("Link") {
		for _, link := range splitLinks(field) {
			target, params, ok := strings.Cut(link, ">")
			target = strings.TrimSpace(target)
			if !ok || !strings.HasPrefix(target, "<") {
				continue
			}
			if !relIsNext(params) {
				continue
			}
			if u, err := a.url.Parse(target[1:]); err == nil {
				return u
			}
		}
	}
	return nil
}

// splitLinks splits a Link field at the commas between links, not those
// inside a <URI> or a quoted parameter.
func splitLinks(field string) []string {
	var out []string
	start, inURI, quoted := 0, false, false
	for i := 0; i < len(field); i++ {
		switch ch := field[i]; {
		case quoted && ch == '\\':
			i++
		case ch == '"' && !inURI:
			quoted = !quoted
		case ch == '<' && !quoted:
			inURI = true
		case ch == '>' && !quoted:
			inURI = false
		case ch == ',' && !inURI && !quoted:
			out = append(out, field[start:i])
			start = i + 1
		}
	}
	return append(out, field[start:])
}

// relIsNext reports whether a link's parameters have a rel naming "next"
// (rel takes a space-separated list of relation types).
func relIsNext(params string) bool {
	for _, p := range strings.Split(params, ";") {
		name, value, ok := strings.Cut(strings.TrimSpace(p), "=")
		if !ok || !strings.EqualFold(strings.TrimSpace(name), "rel") {
			continue
		}
		for _, rel := range strings.Fields(strings.Trim(strings.TrimSpace(value), `"`)) {
			if strings.EqualFold(rel, "next") {
				return true
			}
		}
	}
	return false
}
