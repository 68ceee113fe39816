package model

import "testing"

// Expected values are str(TypeAdapter(AnyHttpUrl / AnyUrl).validate_python(in))
// under pydantic 2.13.4.
func TestNormalizeURL(t *testing.T) {
	tests := []struct {
		in       string
		httpOnly bool
		want     string
	}{
		{"http://Example.com", true, "http://example.com/"},
		{"HTTPS://EXAMPLE.com:443/a/../b/./c", true, "https://example.com/b/c"},
		{"http://x.org:80/a b?q=a b#f g", true, "http://x.org/a%20b?q=a%20b#f%20g"},
		{"http://x.org/%7euser", true, "http://x.org/%7euser"},
		{"http://user:pw@host:8080/p", true, "http://user:pw@host:8080/p"},
		{"http://user:@host/p", true, "http://user@host/p"},
		{"http://@host/p", true, "http://host/p"},
		{"http:/x.org/a", true, "http://x.org/a"},
		{"http:x.org", true, "http://x.org/"},
		{"http://[::1]:80/", true, "http://[::1]/"},
		{"http://1.2.3.4/", true, "http://1.2.3.4/"},
		{"http://exa_mple.com/", true, "http://exa_mple.com/"},
		{"https://storage.kernelci.org/a/b/log.txt.gz", true, "https://storage.kernelci.org/a/b/log.txt.gz"},
		{"http://x.org?a", true, "http://x.org/?a"},
		{"http://x.org#a", true, "http://x.org/#a"},
		{"http://x.org/a\\b", true, "http://x.org/a/b"},
		{"http://xn--nxasmq6b.com", true, "http://xn--nxasmq6b.com/"},
		{"http://x.org:0080/", true, "http://x.org/"},
		{"http://x.org:8080", true, "http://x.org:8080/"},
		{"https://x.org:80/", true, "https://x.org:80/"},
		{"http://x.org/a%2", true, "http://x.org/a%2"},
		{"http://x.org/{a}|`^", true, "http://x.org/%7Ba%7D|%60^"},
		{"http://x.org/\t a", true, "http://x.org/%20a"},
		{"  http://x.org/a  ", true, "http://x.org/a"},
		{"http://x.org/a/..", true, "http://x.org/"},
		{"http://x.org/a/.", true, "http://x.org/a/"},
		{"http://x.org/a/%2E%2e/b", true, "http://x.org/b"},
		{"http://x.org/?q='\"", true, "http://x.org/?q=%27%22"},
		{"http://x.org/ü", true, "http://x.org/%C3%BC"},
		{"http://x.org?", true, "http://x.org/?"},
		{"http:///a", true, "http://a/"},
		// Not trivially normalised: kept as sent (pydantic gives
		// "http://xn--4ca0b.com/%C3%BC" and "http://127.0.0.1/").
		{"http://ÄÖ.com/ü", true, "http://ÄÖ.com/ü"},
		{"http://0x7f.1/", true, "http://0x7f.1/"},
		// AnyUrl: any scheme.
		{"git://git.kernel.org/pub/scm/linux.git", false, "git://git.kernel.org/pub/scm/linux.git"},
		{"GIT://git.kernel.org/x", false, "git://git.kernel.org/x"},
		{"https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git", false, "https://git.kernel.org/pub/scm/linux/kernel/git/torvalds/linux.git"},
		{"file:///tmp/x", false, "file:///tmp/x"},
		{"mailto:a@b", false, "mailto:a@b"},
		{"ssh://git@github.com/a/b.git", false, "ssh://git@github.com/a/b.git"},
		{"http://Example.com", false, "http://example.com/"},
	}
	for _, tc := range tests {
		got, err := NormalizeURL(tc.in, tc.httpOnly)
		if err != nil {
			t.Errorf("NormalizeURL(%q, %v): %v", tc.in, tc.httpOnly, err)
			continue
		}
		if got != tc.want {
			t.Errorf("NormalizeURL(%q, %v) = %q, want %q", tc.in, tc.httpOnly, got, tc.want)
		}
	}
}

func TestNormalizeURLRejects(t *testing.T) {
	tests := []struct {
		in       string
		httpOnly bool
		msg      string
	}{
		{"", true, "Input should be a valid URL, input is empty"},
		{"http://", true, "Input should be a valid URL, empty host"},
		{"x.org/a", true, "Input should be a valid URL, relative URL without a base"},
		{"/abs/path", false, "Input should be a valid URL, relative URL without a base"},
		{"foo", false, "Input should be a valid URL, relative URL without a base"},
		{"git@github.com:a/b.git", false, "Input should be a valid URL, relative URL without a base"},
		{"1http://x.org", false, "Input should be a valid URL, relative URL without a base"},
		{"http://ex ample.com/", true, "Input should be a valid URL, invalid international domain name"},
		{"http://x.org:99999/", true, "Input should be a valid URL, invalid port number"},
		{"http://x.org:8a/", true, "Input should be a valid URL, invalid port number"},
		{"ssh://x.org:99999/", false, "Input should be a valid URL, invalid port number"},
		{"http://[::1/", true, "Input should be a valid URL, invalid IPv6 address"},
		{"http://[zz]/", true, "Input should be a valid URL, invalid IPv6 address"},
		{"http://1.2.3.256/", true, "Input should be a valid URL, invalid IPv4 address"},
		{"git://git.kernel.org/pub/scm/linux.git", true, "URL scheme should be 'http' or 'https'"},
		{"file:///tmp/x", true, "URL scheme should be 'http' or 'https'"},
		{"mailto:a@b", true, "URL scheme should be 'http' or 'https'"},
		{"ftp://x.org/", true, "URL scheme should be 'http' or 'https'"},
		{"ftp://", true, "Input should be a valid URL, empty host"},
	}
	for _, tc := range tests {
		got, err := NormalizeURL(tc.in, tc.httpOnly)
		if err == nil {
			t.Errorf("NormalizeURL(%q, %v) = %q, want error", tc.in, tc.httpOnly, got)
			continue
		}
		if err.Error() != tc.msg {
			t.Errorf("NormalizeURL(%q, %v) error = %q, want %q", tc.in, tc.httpOnly, err, tc.msg)
		}
	}
}
