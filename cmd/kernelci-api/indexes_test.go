package main

import (
	"bytes"
	"strings"
	"testing"

	"github.com/kernelci/kernelci-api-go/internal/store/mongo/mongotest"
)

func TestIndexesCommand(t *testing.T) {
	srv := mongotest.StartT(t)
	t.Chdir(t.TempDir()) // no .env
	t.Setenv("MONGO_SERVICE", srv.URI()+"kci")

	var out, errOut bytes.Buffer
	if code := run([]string{"indexes"}, &out, &errOut); code != 0 {
		t.Fatalf("indexes = %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `Database "kci"`) || !strings.Contains(out.String(), "missing") ||
		!strings.Contains(out.String(), "indexes --create") {
		t.Fatalf("report before creation:\n%s", out.String())
	}
	out.Reset()
	if code := run([]string{"indexes", "--create"}, &out, &errOut); code != 0 {
		t.Fatalf("indexes --create = %d: %s", code, errOut.String())
	}
	t.Log(out.String())
	for _, want := range []string{"created", "kind_timestamp", "username_1"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("report after --create lacks %q:\n%s", want, out.String())
		}
	}
	out.Reset()
	if code := run([]string{"indexes"}, &out, &errOut); code != 0 {
		t.Fatalf("indexes = %d: %s", code, errOut.String())
	}
	// Only the TTL indexes remain "missing" on FerretDB (no TTL indexes).
	if !strings.Contains(out.String(), "Missing indexes: 2") || !strings.Contains(out.String(), "timestamp_1") ||
		!strings.Contains(out.String(), "ts_1") {
		t.Fatalf("report after creation:\n%s", out.String())
	}

	t.Setenv("MONGO_SERVICE", "")
	out.Reset()
	if code := run([]string{"indexes"}, &out, &errOut); code != 0 || !strings.Contains(out.String(), "embedded store") {
		t.Fatalf("indexes without MONGO_SERVICE = %d: %s", code, out.String())
	}
}
