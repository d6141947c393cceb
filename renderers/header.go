package renderers

import (
	"strings"

	"github.com/ocni/ocni/occi"
)

// ParseCategoryHeader reads the category identifiers named by Category
// header values of the text rendering, e.g.
//
//	Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
//
// Values may be repeated headers or comma-separated; commas and semicolons
// inside quoted strings do not separate.
func ParseCategoryHeader(values []string) ([]string, error) {
	var ids []string
	for _, v := range values {
		for _, item := range splitQuoted(v, ',') {
			if strings.TrimSpace(item) == "" {
				continue
			}
			parts := splitQuoted(item, ';')
			term := strings.TrimSpace(parts[0])
			var scheme string
			for _, p := range parts[1:] {
				name, val, ok := strings.Cut(p, "=")
				if !ok {
					return nil, occi.Errorf(occi.InvalidArgument, "Category %q: parameter %q has no value", strings.TrimSpace(item), strings.TrimSpace(p))
				}
				if strings.EqualFold(strings.TrimSpace(name), "scheme") {
					scheme = unquote(strings.TrimSpace(val))
				}
			}
			if scheme == "" {
				return nil, occi.Errorf(occi.InvalidArgument, "Category %q has no scheme", strings.TrimSpace(item))
			}
			id := scheme + term
			if err := occi.ValidID(id); err != nil {
				return nil, occi.Prefix("Category header", err)
			}
			// A '#' inside the term would make another category of the
			// same characters: refuse rather than guess.
			if s, t := occi.SplitID(id); s != scheme || t != term {
				return nil, occi.Errorf(occi.InvalidArgument, "Category %q: the term must not contain '#'", strings.TrimSpace(item))
			}
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// splitQuoted splits s at sep outside double-quoted strings, honouring
// backslash escapes inside them.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted := 0, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && quoted:
			i++
		case c == '"':
			quoted = !quoted
		case c == sep && !quoted:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// unquote removes the double quotes around a parameter value and undoes its
// backslash escapes; a bare value is returned as it is.
func unquote(v string) string {
	if len(v) < 2 || v[0] != '"' || v[len(v)-1] != '"' {
		return v
	}
	v = v[1 : len(v)-1]
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) {
			i++
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
