package redisbus

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// jsonStyle is a way of writing JSON.
type jsonStyle struct {
	comma, colon string
	ascii        bool // escape every character outside printable ASCII
}

var (
	// pythonStyle is Python's json.dumps with its defaults, which the
	// reference uses for the items it pushes: ", " and ": " separators,
	// ensure_ascii (non-ASCII characters and DEL escaped as \uXXXX, in
	// lower-case hex, with surrogate pairs beyond the BMP).
	pythonStyle = jsonStyle{comma: ", ", colon: ": ", ascii: true}
	// compactStyle is FastAPI's JSONResponse (json.dumps with "," and
	// ":" separators and ensure_ascii=False), the shape of the
	// reference's /pop answers.
	compactStyle = jsonStyle{comma: ",", colon: ":"}
)

// pythonJSON rewrites a JSON document the way Python's json.dumps writes
// it, keeping the order of object keys and the spelling of numbers.
func pythonJSON(src []byte) ([]byte, error) { return reencode(src, pythonStyle) }

// compactJSON rewrites a JSON document without spaces and with strings
// unescaped where JSON allows it.
func compactJSON(src []byte) ([]byte, error) { return reencode(src, compactStyle) }

func reencode(src []byte, st jsonStyle) ([]byte, error) {
	d := json.NewDecoder(bytes.NewReader(src))
	d.UseNumber()
	var b bytes.Buffer
	b.Grow(len(src) + len(src)/8)
	if err := writeValue(d, &b, st); err != nil {
		return nil, err
	}
	if _, err := d.Token(); err != io.EOF {
		return nil, errors.New("json: data after the document")
	}
	return b.Bytes(), nil
}

func writeValue(d *json.Decoder, b *bytes.Buffer, st jsonStyle) error {
	tok, err := d.Token()
	if err != nil {
		return err
	}
	switch v := tok.(type) {
	case json.Delim:
		switch v {
		case '{':
			b.WriteByte('{')
			for first := true; d.More(); first = false {
				if !first {
					b.WriteString(st.comma)
				}
				k, err := d.Token()
				if err != nil {
					return err
				}
				ks, ok := k.(string)
				if !ok {
					return fmt.Errorf("json: object key %v", k)
				}
				writeString(b, ks, st.ascii)
				b.WriteString(st.colon)
				if err := writeValue(d, b, st); err != nil {
					return err
				}
			}
			if _, err := d.Token(); err != nil {
				return err
			}
			b.WriteByte('}')
		case '[':
			b.WriteByte('[')
			for first := true; d.More(); first = false {
				if !first {
					b.WriteString(st.comma)
				}
				if err := writeValue(d, b, st); err != nil {
					return err
				}
			}
			if _, err := d.Token(); err != nil {
				return err
			}
			b.WriteByte(']')
		default:
			return fmt.Errorf("json: unexpected %v", v)
		}
	case string:
		writeString(b, v, st.ascii)
	case json.Number:
		b.WriteString(v.String())
	case bool:
		if v {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case nil:
		b.WriteString("null")
	default:
		return fmt.Errorf("json: unexpected token %T", tok)
	}
	return nil
}

const hexDigits = "0123456789abcdef"

func writeU(b *bytes.Buffer, r rune) {
	b.WriteString(`\u`)
	b.WriteByte(hexDigits[r>>12&0xf])
	b.WriteByte(hexDigits[r>>8&0xf])
	b.WriteByte(hexDigits[r>>4&0xf])
	b.WriteByte(hexDigits[r&0xf])
}

// writeString writes s as a JSON string with Python's escapes: \" \\ \n
// \r \t \b \f, other control characters as \u00XX and, when ascii is
// set, everything outside space..~ as \uXXXX.
func writeString(b *bytes.Buffer, s string, ascii bool) {
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		case '\b':
			b.WriteString(`\b`)
		case '\f':
			b.WriteString(`\f`)
		default:
			switch {
			case r < 0x20:
				writeU(b, r)
			case !ascii || r < 0x7f:
				b.WriteRune(r)
			case r <= 0xffff:
				writeU(b, r)
			default:
				r -= 0x10000
				writeU(b, 0xd800+(r>>10))
				writeU(b, 0xdc00+(r&0x3ff))
			}
		}
	}
	b.WriteByte('"')
}
