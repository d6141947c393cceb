package renderers

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/ocni/ocni/occi"
)

// ParseCategoryHeader reads the category identifiers named by Category
// header values of the text rendering, e.g.
//
//	Category: compute; scheme="http://schemas.ogf.org/occi/infrastructure#"; class="kind"
//
// Values may be repeated headers or comma-separated; commas and semicolons
// inside quoted strings do not separate. Only the term and the scheme are
// read: this is the filter form of a Category, in which the other
// parameters are optional.
func ParseCategoryHeader(values []string) ([]string, error) {
	var fields []textField
	for _, v := range values {
		fields = appendItems(fields, fieldCategory, v, "Category header")
	}
	return categoryIDs(fields)
}

// ParseAttributeHeader reads the attributes named by X-OCCI-Attribute
// header values, the text rendering's attribute filter, e.g.
//
//	X-OCCI-Attribute: occi.compute.state="active", occi.compute.cores=2
//
// Values are typed as the text rendering writes them: a quoted string is a
// string, a bare number a float64, true and false booleans.
func ParseAttributeHeader(values []string) (map[string]any, error) {
	var fields []textField
	for _, v := range values {
		fields = appendItems(fields, fieldAttribute, v, "X-OCCI-Attribute header")
	}
	return decodeAttributes(fields)
}

// splitQuoted splits s at sep outside double-quoted strings, honouring
// backslash escapes inside them. A part that opens with '<' runs to the
// next '>' whatever it holds, as the <URI-reference> of a Link value does.
func splitQuoted(s string, sep byte) []string {
	var out []string
	start, quoted, angled, fresh := 0, false, false, true
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case angled:
			if c == '>' {
				angled = false
			}
		case quoted:
			switch c {
			case '\\':
				i++
			case '"':
				quoted = false
			}
		case c == '"':
			quoted = true
		case c == '<' && fresh:
			angled = true
		case c == sep:
			out = append(out, s[start:i])
			start, fresh = i+1, true
			continue
		}
		if c != ' ' && c != '\t' {
			fresh = false
		}
	}
	return append(out, s[start:])
}

// The escapes of a quoted string. A backslash starts one of:
//
//	\"  \\      a quote, a backslash (RFC 9110's quoted-pair)
//	\n  \r  \t  a line feed, a carriage return, a tab
//	\uXXXX      the character U+XXXX: four hexadecimal digits, not a
//	            UTF-16 surrogate (a character beyond U+FFFF is written
//	            as itself)
//
// quote writes nothing else, and a value never holds a raw line break,
// which would end a line of text/plain or a header field of text/occi. Any
// other backslash sequence is refused rather than read as the character
// after it: "\u00" read as "u00" stores what the client never meant.

// unescape undoes the escapes of a quoted string's content; an unknown or
// incomplete escape is an error that quotes it.
func unescape(v string) (string, error) {
	if strings.IndexByte(v, '\\') < 0 {
		return v, nil
	}
	var b strings.Builder
	b.Grow(len(v))
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c != '\\' {
			b.WriteByte(c)
			continue
		}
		if i+1 == len(v) {
			return "", occi.Errorf(occi.InvalidArgument, `the quoted string ends with a lone '\'; write \\ for a backslash`)
		}
		i++
		switch v[i] {
		case '"', '\\':
			b.WriteByte(v[i])
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			hex := v[i+1 : min(i+5, len(v))]
			if !isHex4(hex) {
				return "", occi.Errorf(occi.InvalidArgument, `the escape %s is incomplete: \u takes four hexadecimal digits`, escName(`\u`+hex))
			}
			n, _ := strconv.ParseUint(hex, 16, 32)
			if utf16.IsSurrogate(rune(n)) {
				return "", occi.Errorf(occi.InvalidArgument, `the escape %s is half of a UTF-16 surrogate pair; write the character itself`, escName(`\u`+hex))
			}
			b.WriteRune(rune(n))
			i += 4
		default:
			_, size := utf8.DecodeRuneInString(v[i:])
			return "", occi.Errorf(occi.InvalidArgument, `the escape %s is not one of \" \\ \n \r \t \uXXXX`, escName(`\`+v[i:i+size]))
		}
	}
	return b.String(), nil
}

// escName shows an escape as the client wrote it: between single quotes
// when it is printable, Go-quoted otherwise.
func escName(e string) string {
	for _, r := range e {
		if !strconv.IsPrint(r) || r == '\'' {
			return strconv.Quote(e)
		}
	}
	return "'" + e + "'"
}

func isHex4(s string) bool {
	for i := 0; i < len(s); i++ {
		if strings.IndexByte("0123456789abcdefABCDEF", s[i]) < 0 {
			return false
		}
	}
	return len(s) == 4
}

// quote writes s as a quoted string: '"' and '\' are escaped with a
// backslash, line breaks as \n and \r, and other control characters as
// \uXXXX, so that a value never breaks a line or a header field.
func quote(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"' || r == '\\':
			b.WriteByte('\\')
			b.WriteRune(r)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r < 0x20 && r != '\t' || r == 0x7f:
			b.WriteString(`\u00`)
			b.WriteByte("0123456789abcdef"[r>>4])
			b.WriteByte("0123456789abcdef"[r&0xf])
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
