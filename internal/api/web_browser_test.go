package api_test

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// seedWeb stores what the pages show: two checkouts of mainline/master
// with builds, test suites and tests, and some telemetry. It returns the
// newest checkout's id and a user token.
func seedWeb(t *testing.T, e *env) (checkout, token string) {
	t.Helper()
	token = e.token("maintainer")
	rev := func(commit string) map[string]any {
		r := checkoutBody()["data"].(map[string]any)["kernel_revision"].(map[string]any)
		c := map[string]any{}
		for k, v := range r {
			c[k] = v
		}
		c["commit"] = commit
		return c
	}
	finish := func(n map[string]any, result string) {
		if result == "" {
			return
		}
		e.do(http.MethodPatch, "/node/"+n["id"].(string), token, map[string]any{"state": "done", "result": result}).expect(http.StatusOK)
	}
	for ci, commit := range []string{"1111111111111111111111111111111111111111", "2222222222222222222222222222222222222222"} {
		body := checkoutBody()
		body["data"] = map[string]any{"kernel_revision": rev(commit)}
		co := e.postNode(token, body)
		checkout = co["id"].(string)
		for bi, cfg := range []string{"defconfig", "allmodconfig", "tinyconfig"} {
			b := e.postNode(token, nodeBody("kbuild", "kbuild-gcc-12-"+cfg, map[string]any{"parent": checkout,
				"data": map[string]any{"kernel_revision": rev(commit), "config_full": cfg, "arch": "x86_64"}}))
			finish(b, []string{"pass", "fail", "incomplete", "pass"}[(ci+bi)%4])
			if cfg != "defconfig" {
				continue
			}
			job := e.postNode(token, nodeBody("job", "baseline-x86", map[string]any{"parent": b["id"],
				"data": map[string]any{"kernel_revision": rev(commit)}}))
			finish(job, "pass")
			for ti := range 4 {
				tn := e.postNode(token, nodeBody("test", fmt.Sprintf("baseline.login-%d", ti), map[string]any{"parent": job["id"],
					"data": map[string]any{"kernel_revision": rev(commit)}}))
				finish(tn, []string{"pass", "pass", "fail", ""}[ti])
			}
		}
	}
	var tel []map[string]any
	for i := range 12 {
		ev := map[string]any{"kind": "job_result", "runtime": []string{"lava-collabora", "k8s-gke"}[i%2],
			"device_type": "qemu-x86", "tree": "mainline", "branch": "master", "job_name": "baseline-x86",
			"result": []string{"pass", "fail", "incomplete"}[i%3]}
		if i%3 == 2 {
			ev["is_infra_error"], ev["error_type"], ev["error_msg"] = true, "Infrastructure", "device did not boot"
		}
		tel = append(tel, ev)
	}
	tel = append(tel, map[string]any{"kind": "runtime_error", "runtime": "lava-collabora", "error_type": "submit", "is_infra_error": true,
		"error_msg": "connection refused"})
	e.do(http.MethodPost, "/telemetry", token, tel).expect(http.StatusOK)
	return checkout, token
}

// TestWebPagesInBrowser opens every page on a seeded store in headless
// Chromium, on a desktop and on a 375 px phone, and checks what each
// shows against the API: the viewer's node and children, a live update,
// search, the build matrix; dashboard cells against /count; stats;
// analytics; a checkout submitted through /manage. No console error may
// appear. With KCI_SCREENSHOT_DIR set it saves the screenshots of
// docs/ui.md.
func TestWebPagesInBrowser(t *testing.T) {
	// The server first: cleanups run last-in first-out, so the browser
	// (and its open event streams) goes before the server closes.
	e := newEnv(t)
	browserCtx, problems := browser(t)
	ctx, cancel := context.WithTimeout(browserCtx, 150*time.Second)
	defer cancel()
	checkout, token := seedWeb(t, e)
	id := func(s string) chromedp.ID { return chromedp.ID(s) }
	desktop := chromedp.EmulateViewport(1280, 900)
	phone := chromedp.EmulateViewport(375, 812, chromedp.EmulateScale(2), chromedp.EmulateMobile)
	// poll waits for expr to be true. Right after a navigation Chromium
	// may answer for the page's old JavaScript context ("Cannot find
	// context with specified id"): the poll then starts again in the new
	// one.
	poll := func(expr string) chromedp.Action[bool] {
		return func(c context.Context, tg *chromedp.Target) (bool, error) {
			for i := 0; ; i++ {
				v, err := chromedp.Poll[bool](expr, chromedp.WithPollingTimeout(10*time.Second))(c, tg)
				if err == nil || i == 2 || !strings.Contains(err.Error(), "Cannot find context") {
					return v, err
				}
			}
		}
	}
	js := func(expr string) string { return run(t, ctx, chromedp.Evaluate[string](expr)) }
	// ids is the ids of GET /nodes?q, comma-separated; rows those of a
	// table's rows.
	ids := func(q string) []string {
		var out []string
		for _, n := range e.do(http.MethodGet, "/nodes?"+q, "", nil).expect(http.StatusOK).object()["items"].([]any) {
			out = append(out, n.(map[string]any)["id"].(string))
		}
		return out
	}
	rows := func(table string) string {
		return `[...document.querySelectorAll("#` + table + ` tbody tr[data-id]")].map(r => r.dataset.id).join(",")`
	}
	// press presses Enter on a button, as a keyboard user does.
	// fits checks that the page fits a 375 px phone: wide tables scroll
	// in their box, the page itself never sideways.
	fits := func(t *testing.T, what string) {
		t.Helper()
		do(t, ctx, phone)
		if got := js(`document.documentElement.scrollWidth + " " + window.innerWidth`); got != "375 375" {
			t.Errorf("%s on a 375 px phone: page and window widths %s", what, got)
		}
	}
	press := func(button string) { do(t, ctx, chromedp.Focus(id(button)), chromedp.KeyEvent("\r")) }

	// The landing page links every page.
	do(t, ctx, desktop, chromedp.Navigate(e.base+"/"), chromedp.WaitVisible(chromedp.CSS("h1")), screenshot("ui-landing"))
	if got := js(`[...document.querySelectorAll("a")].map(a => a.getAttribute("href")).join(" ")`); !strings.Contains(got, "viewer dashboard stats analytics manage") {
		t.Errorf("landing links: %s", got)
	}
	fits(t, "the landing page")

	t.Run("viewer", func(t *testing.T) {
		// kci-dev's link: the node, its fields and its children.
		do(t, ctx, desktop, chromedp.Navigate(e.base+"/viewer?node_id="+checkout), chromedp.WaitVisible(id("node")))
		run(t, ctx, poll(`document.querySelectorAll("#children tbody tr[data-id]").length === 3`))
		if got := run(t, ctx, chromedp.Text(id("f-id"))); got != checkout {
			t.Errorf("node id shown: %q", got)
		}
		names := js(`[...document.querySelectorAll("#children tbody tr[data-id] td.name")].map(td => td.textContent).join(",")`)
		if names != "kbuild-gcc-12-defconfig,kbuild-gcc-12-allmodconfig,kbuild-gcc-12-tinyconfig" {
			t.Errorf("children: %s", names)
		}
		// A PATCH made while the page shows the node appears without a
		// reload.
		run(t, ctx, chromedp.Evaluate[bool](`window.notReloaded = true`))
		start := time.Now()
		e.do(http.MethodPatch, "/node/"+checkout, token, map[string]any{"state": "done", "result": "pass"}).expect(http.StatusOK)
		if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`(document.getElementById("f-result") || {}).textContent === "pass"`,
			chromedp.WithPollingTimeout(10*time.Second), chromedp.WithPollingInterval(5*time.Millisecond))); err != nil {
			t.Fatalf("the PATCH did not appear: %v; live %s, state %s", err, js(`String(!document.getElementById("live").hidden)`), js(`document.getElementById("f-state").textContent`))
		}
		t.Logf("PATCH shown by /viewer after %v", time.Since(start))
		if !run(t, ctx, chromedp.Evaluate[bool](`window.notReloaded === true`)) {
			t.Error("the page reloaded")
		}
		do(t, ctx, screenshot("ui-viewer"))
		// The ancestry of a test node, on a phone.
		test := e.do(http.MethodGet, "/nodes?kind=test&name=baseline.login-0&limit=1", "", nil).expect(http.StatusOK).object()["items"].([]any)[0].(map[string]any)
		do(t, ctx, phone, chromedp.Navigate(e.base+"/latest/viewer?node_id="+test["id"].(string)), chromedp.WaitVisible(id("node")))
		run(t, ctx, poll(`document.querySelectorAll("#crumbs a").length === 3`))
		if got := js(`[...document.getElementById("crumbs").children].map(c => c.textContent).join(" › ")`); got != "checkout › kbuild-gcc-12-defconfig › baseline-x86 › baseline.login-0" {
			t.Errorf("breadcrumb %q", got)
		}
		do(t, ctx, screenshot("ui-viewer-phone"))
		fits(t, "a node")
		// Search with the keyboard: type a query and press Enter; the URL
		// keeps it.
		do(t, ctx, desktop, chromedp.Navigate(e.base+"/viewer"), chromedp.WaitVisible(id("q")),
			chromedp.SendKeys(id("q"), "kind=kbuild&result__ne=pass\r"), chromedp.WaitVisible(id("results")))
		want := e.count("kind=kbuild&result__ne=pass")
		run(t, ctx, poll(fmt.Sprintf(`document.querySelectorAll("#found tbody tr[data-id]").length === %d`, want)))
		if got := js(`location.search`); got != "?q="+url.QueryEscape("kind=kbuild&result__ne=pass") {
			t.Errorf("search URL %q", got)
		}
		// Newest first.
		if got, want := js(rows("found")), strings.Join(ids("kind=kbuild&result__ne=pass&sort=-created"), ","); got != want {
			t.Errorf("search rows %s, want /nodes?sort=-created's %s", got, want)
		}
		do(t, ctx, screenshot("ui-viewer-search"))
		fits(t, "search results")
		do(t, ctx, desktop)
		// Cursor paging, with the keyboard: 8 tests, 3 a page, newest
		// first; Next keeps the page in the URL, Previous comes back.
		tests := ids("kind=test&sort=-created")
		if len(tests) != 8 {
			t.Fatalf("%d tests seeded", len(tests))
		}
		page := func(from, to int) string { return strings.Join(tests[from:to], ",") }
		do(t, ctx, chromedp.Navigate(e.base+"/viewer?q="+url.QueryEscape("kind=test&limit=3")))
		run(t, ctx, poll(rows("found")+` === "`+page(0, 3)+`"`))
		press("found-next")
		run(t, ctx, poll(rows("found")+` === "`+page(3, 6)+`"`))
		if got := js(`document.getElementById("found-page").textContent`); got != "4–6 of 8" {
			t.Errorf("second page: %q", got)
		}
		if got := js(`location.search`); !strings.Contains(got, "&after=") || !strings.HasSuffix(got, "&start=3") {
			t.Errorf("second page URL %q", got)
		}
		press("found-next")
		run(t, ctx, poll(rows("found")+` === "`+page(6, 8)+`" && document.getElementById("found-next").disabled`))
		press("found-prev")
		run(t, ctx, poll(rows("found")+` === "`+page(3, 6)+`"`))
		// A bad query says what is wrong.
		do(t, ctx, chromedp.Navigate(e.base+"/viewer?q="+url.QueryEscape("created__gt=yesterday")))
		run(t, ctx, poll(`document.getElementById("status").classList.contains("error")`))
		// So does an id that names no node (kci-dev's link to a purged one).
		do(t, ctx, chromedp.Navigate(e.base+"/viewer?node_id=000000000000000000000000"))
		run(t, ctx, poll(`document.getElementById("status").textContent === "There is no node with id 000000000000000000000000. It may have been purged; check the link, or search below." && document.getElementById("node").hidden`))
		// The trees view: a cell per config and commit, opening the builds.
		// Picked with the keyboard (type-ahead in the select).
		do(t, ctx, chromedp.Navigate(e.base+"/viewer?view=trees"), chromedp.WaitVisible(id("tree-pick")))
		run(t, ctx, poll(`document.querySelectorAll("#tree-pick option").length > 1`))
		do(t, ctx, chromedp.SendKeys(id("tree-pick"), "mainline"))
		run(t, ctx, poll(`document.querySelectorAll("#matrix a.cell").length === 6`))
		if got := js(`location.search`); got != "?view=trees&tree=mainline&branch=master" {
			t.Errorf("trees URL %q", got)
		}
		do(t, ctx, screenshot("ui-viewer-trees"))
		fits(t, "the build matrix")
		do(t, ctx, desktop, chromedp.Click(chromedp.CSS("#matrix a.cell")), chromedp.WaitVisible(id("results")))
		run(t, ctx, poll(`document.querySelectorAll("#found tbody tr[data-id]").length === 1`))

		// Children past a page (50), paged by cursor with the keyboard.
		parent := e.postNode(token, nodeBody("job", "many-children", nil))
		for i := range 52 {
			e.postNode(token, nodeBody("test", fmt.Sprintf("child-%02d", i), map[string]any{"parent": parent["id"]}))
		}
		kids := ids("parent=" + parent["id"].(string) + "&limit=100")
		do(t, ctx, chromedp.Navigate(e.base+"/viewer?node_id="+parent["id"].(string)), chromedp.WaitVisible(id("node")))
		run(t, ctx, poll(rows("children")+` === "`+strings.Join(kids[:50], ",")+`"`))
		if got := js(`document.getElementById("child-page").textContent`); got != "1–50 of 52" {
			t.Errorf("first page of children: %q", got)
		}
		press("child-next")
		run(t, ctx, poll(rows("children")+` === "`+strings.Join(kids[50:], ",")+`"`))
		if got := js(`document.getElementById("child-page").textContent + " " + document.getElementById("child-next").disabled + " " + document.activeElement.id`); got != "51–52 of 52 true child-prev" {
			t.Errorf("last page of children: %q", got)
		}
		press("child-prev")
		run(t, ctx, poll(rows("children")+` === "`+strings.Join(kids[:50], ",")+`"`))
	})

	t.Run("dashboard", func(t *testing.T) {
		do(t, ctx, desktop, chromedp.Navigate(e.base+"/dashboard?tree=mainline&branch=master&days=7"))
		run(t, ctx, poll(`document.querySelectorAll("#grid [data-query]").length === 6`))
		// A result of the branch while the page is open: the counts follow
		// without a reload.
		run(t, ctx, chromedp.Evaluate[bool](`window.notReloaded = true`))
		sum := `[...document.querySelectorAll("#grid [data-query]")].reduce((a, c) => a + Number(c.dataset.count), 0)`
		before := js(`String(` + sum + `)`)
		newest := e.do(http.MethodGet, "/nodes?kind=test&name=baseline.login-0&sort=-created&limit=1", "", nil).expect(http.StatusOK).object()["items"].([]any)[0].(map[string]any)
		live := e.postNode(token, nodeBody("test", "baseline.live", map[string]any{"parent": newest["parent"], "data": newest["data"]}))
		e.do(http.MethodPatch, "/node/"+live["id"].(string), token, map[string]any{"state": "done", "result": "fail"}).expect(http.StatusOK)
		n, _ := strconv.Atoi(before)
		if _, err := chromedp.Run(ctx, poll(fmt.Sprintf(`%s === %d && window.notReloaded === true`, sum, n+1))); err != nil {
			t.Fatalf("the new result did not appear: %v; cells %s (was %s), live %s, status %q, reloaded %s", err, js(`String(`+sum+`)`), before,
				js(`String(!document.getElementById("live").hidden)`), js(`document.getElementById("status").textContent`), js(`String(window.notReloaded !== true)`))
		}
		// Every cell equals /count with its filters.
		cells := js(`JSON.stringify([...document.querySelectorAll("#grid [data-query]")].map(c => [c.dataset.query, c.dataset.count]))`)
		var checked int
		for _, pair := range strings.Split(strings.Trim(cells, "[]"), "],[") {
			parts := strings.SplitN(strings.Trim(pair, "[]"), `","`, 2)
			q, n := strings.Trim(parts[0], `"`), strings.Trim(parts[1], `"`)
			want := e.count(q)
			if got, _ := strconv.Atoi(n); got != want || want == 0 {
				t.Errorf("cell %s: %s, /count says %d", q, n, want)
			}
			checked++
		}
		if checked != 6 {
			t.Errorf("%d cells checked", checked)
		}
		do(t, ctx, screenshot("ui-dashboard"), phone, screenshot("ui-dashboard-phone"))
		fits(t, "the dashboard")
		// The window, chosen with the keyboard, goes to the URL.
		// (Type-ahead picks "30 days" or "3 days": either is a new choice.)
		do(t, ctx, desktop, chromedp.SendKeys(id("days"), "3"))
		run(t, ctx, poll(`document.getElementById("days").value !== "7" && location.search === "?tree=mainline&branch=master&days=" + document.getElementById("days").value && document.querySelectorAll("#grid [data-query]").length === 6`))
		// An empty choice says what to do.
		do(t, ctx, desktop, chromedp.Navigate(e.base+"/dashboard?tree=nosuch&branch=master&days=7"))
		run(t, ctx, poll(`document.getElementById("status").textContent === "No commit of nosuch/master in this window: choose a longer window or another tree."`))
	})

	t.Run("stats", func(t *testing.T) {
		do(t, ctx, desktop, chromedp.Navigate(e.base+"/stats"))
		run(t, ctx, poll(`!!document.querySelector('#table tr[data-kind="test"]')`))
		if got := js(`document.querySelector('#table tr[data-kind="test"] .total').textContent`); got != strconv.Itoa(e.count("kind=test")) {
			t.Errorf("tests in 24 h: %s, /count says %d", got, e.count("kind=test"))
		}
		do(t, ctx, chromedp.Click(chromedp.CSS(`.tabs button[data-hours="168"]`)))
		run(t, ctx, poll(`location.search === "?hours=168"`))
		do(t, ctx, screenshot("ui-stats"))
		fits(t, "stats")
	})

	t.Run("analytics", func(t *testing.T) {
		do(t, ctx, desktop, chromedp.Navigate(e.base+"/analytics"))
		run(t, ctx, poll(`document.querySelectorAll("#kpis .kpi").length === 6`))
		if got := js(`document.querySelector("#kpis .kpi b").textContent`); got != "13" {
			t.Errorf("events: %s, want 13", got)
		}
		run(t, ctx, poll(`document.querySelectorAll("#infra tbody tr").length === 5`))
		do(t, ctx, screenshot("ui-analytics"))
		fits(t, "analytics")
	})

	t.Run("manage", func(t *testing.T) {
		do(t, ctx, phone, chromedp.Navigate(e.base+"/manage"), chromedp.WaitVisible(id("token")),
			chromedp.SendKeys(id("token"), token+"\r"), chromedp.WaitVisible(id("submit-card")))
		if got := run(t, ctx, chromedp.Text(id("whoami"))); !strings.Contains(got, "Signed in as maintainer") {
			t.Errorf("whoami: %q", got)
		}
		do(t, ctx,
			chromedp.SendKeys(id("tree"), "next"), chromedp.SendKeys(id("branch"), "master"),
			chromedp.SendKeys(id("url"), "https://git.kernel.org/pub/scm/linux/kernel/git/next/linux-next.git"),
			chromedp.SendKeys(id("commit"), "3333333333333333333333333333333333333333"),
			chromedp.SendKeys(id("jobfilter"), "baseline-x86, kbuild-gcc-12-x86"),
			chromedp.Click(id("checkout-go")), chromedp.WaitVisible(id("submitted-link")))
		nodeID := run(t, ctx, chromedp.Text(id("submitted-link")))
		page := e.do(http.MethodGet, "/nodes?kind=checkout&data.kernel_revision.tree=next", "", nil).expect(http.StatusOK).object()
		items := page["items"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["id"] != nodeID ||
			fmt.Sprint(items[0].(map[string]any)["jobfilter"]) != "[baseline-x86 kbuild-gcc-12-x86]" ||
			items[0].(map[string]any)["owner"] != "maintainer" {
			t.Errorf("GET /nodes after /manage submitted %s: %v", nodeID, items)
		}
		run(t, ctx, poll(fmt.Sprintf(`!!document.querySelector('#mine tr[data-id="%s"]')`, nodeID)))
		do(t, ctx, screenshot("ui-manage"))
		fits(t, "manage")
	})

	var found []string
	for _, p := range problems() {
		// The deliberately bad search logs its 400.
		if !strings.Contains(p, "created__gt=yesterday") {
			found = append(found, p)
		}
	}
	if len(found) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(found, "\n"))
	}
}
