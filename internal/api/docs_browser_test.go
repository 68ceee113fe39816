package api_test

import (
	"context"
	"io"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/kernelci/kernelci-api-go/internal/api"
	"github.com/kernelci/kernelci-api-go/internal/auth"
	"github.com/kernelci/kernelci-api-go/internal/store/sqlite"
)

// TestDocsPageInBrowser opens GET /docs in headless Chromium: every
// operation is listed, the page loads nothing from anywhere (its only
// resources are inline, under a strict Content-Security-Policy, and the
// browser reports no violation or script error), operations open with
// their parameters and schemas, schema links lead to the schema, and the
// filter works. KCI_SCREENSHOT_DIR=dir keeps screenshots.
func TestDocsPageInBrowser(t *testing.T) {
	t.Parallel()
	browserCtx, problems := browser(t)
	ctx, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	defer cancel()

	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "kernelci.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	s := api.New(st, &auth.Tokens{Secret: "docs"}, api.Options{Version: "test"}, slog.New(slog.NewTextHandler(io.Discard, nil)))
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	routes := len(s.Routes())

	visibleOps := `Array.from(document.querySelectorAll("details.op")).filter(e => e.offsetParent !== null).length`
	do(t, ctx,
		chromedp.EmulateViewport(1280, 900),
		chromedp.Navigate(srv.URL+"/latest/docs"),
		chromedp.WaitVisible(chromedp.ID("filter")),
		screenshot("docs-desktop"),
	)
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("details.op").length`)); n != routes {
		t.Errorf("%d operations on the page, %d routes", n, routes)
	}
	if n := run(t, ctx, chromedp.Evaluate[int](`performance.getEntriesByType("resource").length`)); n != 0 {
		names := run(t, ctx, chromedp.Evaluate[string](`performance.getEntriesByType("resource").map(e => e.name).join(" ")`))
		t.Errorf("the page fetched %d resources: %s", n, names)
	}
	if href := run(t, ctx, chromedp.Evaluate[string](`document.getElementById("spec-link").href`)); href != srv.URL+"/latest/openapi.json" {
		t.Errorf("document link %q", href)
	}

	// Open GET /node/{id}: its parameter and its answer's schema.
	op := `#op-get-node-id`
	do(t, ctx,
		chromedp.Click(chromedp.CSS(op+" > summary")),
		chromedp.WaitVisible(chromedp.CSS(op+" .opbody table")),
		chromedp.ScrollIntoView(chromedp.CSS(op)),
		screenshot("docs-operation"),
	)
	body := run(t, ctx, chromedp.Text(chromedp.CSS(op+" .opbody")))
	for _, want := range []string{"Parameters", "id", "ObjectId", "Responses", "200", "Node or null", "400"} {
		if !strings.Contains(body, want) {
			t.Errorf("GET /node/{id} lacks %q:\n%s", want, body)
		}
	}
	// The schema link opens the Node schema, with its fields.
	do(t, ctx,
		chromedp.Click(chromedp.CSS(op+` a[href="#schema-Node"]`)),
		chromedp.WaitVisible(chromedp.CSS(`#schema-Node table`)),
		screenshot("docs-schema"),
	)
	if open := run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("schema-Node").open`)); !open {
		t.Error("the Node schema did not open")
	}
	fields := run(t, ctx, chromedp.Text(chromedp.CSS(`#schema-Node table`)))
	for _, f := range []string{"kind", "state", "processed_by_kcidb_bridge", "holdoff", "CheckoutData"} {
		if !strings.Contains(fields, f) {
			t.Errorf("Node schema lacks %q", f)
		}
	}

	// The filter.
	do(t, ctx, chromedp.SendKeys(chromedp.ID("filter"), "telemetry"))
	// The four telemetry operations and the /analytics page (its summary
	// says telemetry).
	if n := run(t, ctx, chromedp.Evaluate[int](visibleOps)); n != 5 {
		t.Errorf("%d operations shown for 'telemetry', want 5", n)
	}
	do(t, ctx, chromedp.SendKeys(chromedp.ID("filter"), " nothing-like-this"), chromedp.WaitVisible(chromedp.ID("nomatch")))
	if n := run(t, ctx, chromedp.Evaluate[int](visibleOps)); n != 0 {
		t.Errorf("%d operations shown for a filter matching none", n)
	}

	// A phone: the page still reads, everything opened.
	do(t, ctx,
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(srv.URL+"/docs#op-post-telemetry"),
		chromedp.WaitVisible(chromedp.CSS(`#op-post-telemetry .opbody`)),
		screenshot("docs-phone"),
		chromedp.Click(chromedp.ID("expand")),
	)
	if n := run(t, ctx, chromedp.Evaluate[int](`document.querySelectorAll("details.op[open]").length`)); n != routes {
		t.Errorf("expand all opened %d of %d operations", n, routes)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}
