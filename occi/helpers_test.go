package occi

import (
	"errors"
	"strings"
	"testing"
)

// wantErr fails the test unless err is an *Error with the given code (as
// errors.Is sees it) whose message contains every one of subs.
func wantErr(t testing.TB, err error, code Code, subs ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want %v containing %q", code, subs)
	}
	if !errors.Is(err, &Error{Code: code}) {
		t.Errorf("error %q has code %v, want %v", err, CodeOf(err), code)
	}
	for _, s := range subs {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("error %q does not mention %q", err, s)
		}
	}
}

// wantNoErr fails the test if err is not nil.
func wantNoErr(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("unexpected error: %v (code %v)", err, CodeOf(err))
	}
}

func findKind(cs *Categories, id string) *Kind {
	for _, k := range cs.Kinds {
		if k.ID() == id {
			return k
		}
	}
	return nil
}

func findMixin(cs *Categories, id string) *Mixin {
	for _, m := range cs.Mixins {
		if m.ID() == id {
			return m
		}
	}
	return nil
}

func findAction(cs *Categories, id string) *Action {
	for _, a := range cs.Actions {
		if a.ID() == id {
			return a
		}
	}
	return nil
}

// builtinSet returns the effective attribute set of an entity of the
// built-in kind kindID with the built-in mixins mixinIDs: the kind's
// ancestors first, then the kind, then each mixin after the mixins it
// depends on.
func builtinSet(t testing.TB, kindID string, mixinIDs ...string) AttributeSet {
	t.Helper()
	cs := Builtins()
	var chain []Attributes
	for id := kindID; id != ""; {
		k := findKind(cs, id)
		if k == nil {
			t.Fatalf("kind %s is not built in", id)
		}
		chain = append([]Attributes{k.Attributes}, chain...)
		id = k.Parent
	}
	seen := map[string]bool{}
	var addMixin func(id string)
	addMixin = func(id string) {
		if seen[id] {
			return
		}
		seen[id] = true
		m := findMixin(cs, id)
		if m == nil {
			t.Fatalf("mixin %s is not built in", id)
		}
		for _, d := range m.Depends {
			addMixin(d)
		}
		chain = append(chain, m.Attributes)
	}
	for _, id := range mixinIDs {
		addMixin(id)
	}
	return Merge(chain...)
}

// compiled returns def after compiling it, failing the test on error.
func compiled(t testing.TB, def *AttributeDef) *AttributeDef {
	t.Helper()
	if err := def.compile(); err != nil {
		t.Fatalf("compile %+v: %v", def, err)
	}
	return def
}
