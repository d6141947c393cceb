package libvirt

import (
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
)

// node is an XML element kept as written: qualified names with their
// prefixes, attributes in order, text and child elements interleaved. The
// driver changes libvirt's documents (a domain's definition, a network's)
// in place through it, so that what it does not know survives a redefine;
// encoding/xml's struct mapping would drop it, and its encoder rewrites
// namespace prefixes.
type node struct {
	// name is the qualified name ("domain", "ocni:entity"); empty for a
	// text node.
	name  string
	attrs []xml.Attr // Name.Space holds the prefix as written
	kids  []*node
	text  string // text nodes only
}

// elem returns a new element with attributes given as name, value pairs.
func elem(name string, attrs ...string) *node {
	n := &node{name: name}
	for i := 0; i+1 < len(attrs); i += 2 {
		n.set(attrs[i], attrs[i+1])
	}
	return n
}

// textElem returns an element holding text.
func textElem(name, text string, attrs ...string) *node {
	n := elem(name, attrs...)
	n.setText(text)
	return n
}

// parseXML reads a document into its root element; comments, processing
// instructions and directives are dropped.
func parseXML(s string) (*node, error) {
	dec := xml.NewDecoder(strings.NewReader(s))
	var stack []*node
	var root *node
	for {
		tok, err := dec.RawToken()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("parsing XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			n := &node{name: qualified(t.Name), attrs: make([]xml.Attr, len(t.Attr))}
			copy(n.attrs, t.Attr)
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, n)
			} else if root == nil {
				root = n
			} else {
				return nil, errors.New("parsing XML: more than one root element")
			}
			stack = append(stack, n)
		case xml.EndElement:
			if len(stack) == 0 || stack[len(stack)-1].name != qualified(t.Name) {
				return nil, fmt.Errorf("parsing XML: unexpected </%s>", qualified(t.Name))
			}
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				parent := stack[len(stack)-1]
				parent.kids = append(parent.kids, &node{text: string(t)})
			}
		}
	}
	if root == nil {
		return nil, errors.New("parsing XML: no element")
	}
	if len(stack) > 0 {
		return nil, fmt.Errorf("parsing XML: <%s> is not closed", stack[len(stack)-1].name)
	}
	return root, nil
}

func qualified(n xml.Name) string {
	if n.Space == "" {
		return n.Local
	}
	return n.Space + ":" + n.Local
}

// localName strips a qualified name's prefix.
func localName(name string) string {
	if i := strings.IndexByte(name, ':'); i >= 0 {
		return name[i+1:]
	}
	return name
}

// String encodes the element and what it holds.
func (n *node) String() string {
	var b strings.Builder
	n.write(&b)
	return b.String()
}

func (n *node) write(b *strings.Builder) {
	if n.name == "" {
		escape(b, n.text, false)
		return
	}
	b.WriteByte('<')
	b.WriteString(n.name)
	for _, a := range n.attrs {
		b.WriteByte(' ')
		b.WriteString(qualified(a.Name))
		b.WriteString(`="`)
		escape(b, a.Value, true)
		b.WriteByte('"')
	}
	if len(n.kids) == 0 {
		b.WriteString("/>")
		return
	}
	b.WriteByte('>')
	for _, k := range n.kids {
		k.write(b)
	}
	b.WriteString("</")
	b.WriteString(n.name)
	b.WriteByte('>')
}

// escape writes text or an attribute value with XML's special characters
// escaped; line breaks and tabs stay as they are in text, and are escaped
// in attributes, where a parser would turn them into spaces.
func escape(b *strings.Builder, s string, attr bool) {
	for _, r := range s {
		switch {
		case r == '&':
			b.WriteString("&amp;")
		case r == '<':
			b.WriteString("&lt;")
		case r == '>':
			b.WriteString("&gt;")
		case r == '"' && attr:
			b.WriteString("&quot;")
		case r == '\r', attr && (r == '\n' || r == '\t'):
			fmt.Fprintf(b, "&#x%X;", r)
		default:
			b.WriteRune(r)
		}
	}
}

// get returns an attribute's value by qualified name, or "".
func (n *node) get(name string) string {
	for _, a := range n.attrs {
		if qualified(a.Name) == name {
			return a.Value
		}
	}
	return ""
}

// set sets an attribute by qualified name.
func (n *node) set(name, value string) {
	for i, a := range n.attrs {
		if qualified(a.Name) == name {
			n.attrs[i].Value = value
			return
		}
	}
	prefix, local := "", name
	if i := strings.IndexByte(name, ':'); i >= 0 {
		prefix, local = name[:i], name[i+1:]
	}
	n.attrs = append(n.attrs, xml.Attr{Name: xml.Name{Space: prefix, Local: local}, Value: value})
}

// unset removes an attribute by qualified name.
func (n *node) unset(name string) {
	out := n.attrs[:0]
	for _, a := range n.attrs {
		if qualified(a.Name) != name {
			out = append(out, a)
		}
	}
	n.attrs = out
}

// textContent returns the element's text, trimmed.
func (n *node) textContent() string {
	var b strings.Builder
	for _, k := range n.kids {
		if k.name == "" {
			b.WriteString(k.text)
		}
	}
	return strings.TrimSpace(b.String())
}

// setText replaces what the element holds with text.
func (n *node) setText(s string) {
	n.kids = []*node{{text: s}}
}

// child returns the first child element with the local name, or nil.
func (n *node) child(local string) *node {
	for _, k := range n.kids {
		if k.name != "" && localName(k.name) == local {
			return k
		}
	}
	return nil
}

// children returns the child elements with the local name.
func (n *node) children(local string) []*node {
	var out []*node
	for _, k := range n.kids {
		if k.name != "" && localName(k.name) == local {
			out = append(out, k)
		}
	}
	return out
}

// path follows child elements by local names; nil when one is missing.
func (n *node) path(locals ...string) *node {
	cur := n
	for _, l := range locals {
		if cur = cur.child(l); cur == nil {
			return nil
		}
	}
	return cur
}

// ensure returns the first child element with the local name, adding an
// element of that name when there is none.
func (n *node) ensure(local string) *node {
	if c := n.child(local); c != nil {
		return c
	}
	c := elem(local)
	n.add(c)
	return c
}

// add appends child elements.
func (n *node) add(kids ...*node) *node {
	n.kids = append(n.kids, kids...)
	return n
}

// remove drops the child elements for which drop is true.
func (n *node) remove(drop func(*node) bool) {
	n.kids = slices.DeleteFunc(n.kids, func(k *node) bool { return k.name != "" && drop(k) })
}

// replace puts c in place of the first child element with c's local name,
// or appends it.
func (n *node) replace(c *node) {
	for i, k := range n.kids {
		if k.name != "" && localName(k.name) == localName(c.name) {
			n.kids[i] = c
			return
		}
	}
	n.add(c)
}

// declares reports whether the element binds a prefix, or the default
// namespace, to the namespace URI.
func (n *node) declares(uri string) bool {
	for _, a := range n.attrs {
		if (a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns")) && a.Value == uri {
			return true
		}
	}
	return false
}
