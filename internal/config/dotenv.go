package config

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
)

// ReadDotenv reads KEY=VALUE assignments from the file at path, the format
// docker-compose's env_file and python-dotenv share:
//
//   - blank lines and lines starting with # are ignored;
//   - an optional "export " prefix is dropped;
//   - white space around the key, the = and an unquoted value is dropped,
//     and an unquoted value ends at a # preceded by white space (a comment);
//   - 'single quoted' values are taken literally;
//   - "double quoted" values understand the escapes \n, \r, \t, \" and \\
//     (any other backslash is kept as is);
//   - a quoted value may be followed by white space and a comment only.
//
// Keys are upper-cased, so that secret_key= sets SECRET_KEY as it does for
// pydantic settings. A later assignment of a key replaces an earlier one.
// Variable interpolation (${VAR}) and multi-line values are not supported.
//
// A missing file is not an error: the result is then empty.
func ReadDotenv(path string) (map[string]string, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return map[string]string{}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", path, err)
	}
	return parseDotenv(path, data)
}

func parseDotenv(name string, data []byte) (map[string]string, error) {
	data = bytes.TrimPrefix(data, []byte("\uFEFF"))
	vars := map[string]string{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for n := 1; sc.Scan(); n++ {
		key, val, ok, err := parseDotenvLine(sc.Text())
		if err != nil {
			return nil, fmt.Errorf("config: %s:%d: %w", name, n, err)
		}
		if ok {
			vars[strings.ToUpper(key)] = val
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("config: reading %s: %w", name, err)
	}
	return vars, nil
}

// parseDotenvLine parses one line; ok is false for blank and comment lines.
func parseDotenvLine(line string) (key, val string, ok bool, err error) {
	line = strings.TrimSpace(line)
	if line == "" || line[0] == '#' {
		return "", "", false, nil
	}
	if rest, found := strings.CutPrefix(line, "export"); found && rest != "" && (rest[0] == ' ' || rest[0] == '\t') {
		line = strings.TrimSpace(rest)
	}
	key, val, found := strings.Cut(line, "=")
	if !found {
		return "", "", false, errors.New("expected KEY=VALUE")
	}
	key = strings.TrimSpace(key)
	if !validKey(key) {
		return "", "", false, fmt.Errorf("invalid variable name %q", key)
	}
	val = strings.TrimLeft(val, " \t")
	if val == "" {
		return key, "", true, nil
	}
	var rest string
	switch q := val[0]; q {
	case '\'':
		end := strings.IndexByte(val[1:], '\'')
		if end < 0 {
			return "", "", false, fmt.Errorf("unterminated quote in the value of %s", key)
		}
		val, rest = val[1:1+end], val[2+end:]
	case '"':
		var b strings.Builder
		i := 1
		closed := false
		for i < len(val) {
			c := val[i]
			if c == '"' {
				closed = true
				i++
				break
			}
			if c == '\\' && i+1 < len(val) {
				switch val[i+1] {
				case 'n':
					b.WriteByte('\n')
				case 'r':
					b.WriteByte('\r')
				case 't':
					b.WriteByte('\t')
				case '"':
					b.WriteByte('"')
				case '\\':
					b.WriteByte('\\')
				default:
					b.WriteByte('\\')
					b.WriteByte(val[i+1])
				}
				i += 2
				continue
			}
			b.WriteByte(c)
			i++
		}
		if !closed {
			return "", "", false, fmt.Errorf("unterminated quote in the value of %s", key)
		}
		val, rest = b.String(), val[i:]
	default:
		for i := 1; i < len(val); i++ {
			if val[i] == '#' && (val[i-1] == ' ' || val[i-1] == '\t') {
				val = val[:i]
				break
			}
		}
		return key, strings.TrimRight(val, " \t"), true, nil
	}
	rest = strings.TrimLeft(rest, " \t")
	if rest != "" && rest[0] != '#' {
		return "", "", false, fmt.Errorf("unexpected text after the quoted value of %s", key)
	}
	return key, val, true, nil
}

func validKey(k string) bool {
	if k == "" || (k[0] >= '0' && k[0] <= '9') {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c == '.' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
