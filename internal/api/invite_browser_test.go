package api_test

import (
	"context"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// chromiumPath finds the browser: $KCI_CHROMIUM, else Debian's chromium.
func chromiumPath(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("KCI_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"/usr/bin/chromium", "chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("browser test skipped: chromium is not installed (Debian: apt-get install chromium; or set KCI_CHROMIUM to a Chromium or Chrome binary)")
	return ""
}

// browser starts a headless Chromium with an empty profile, phone-sized,
// and collects the page's JavaScript exceptions and console errors
// (Content-Security-Policy violations included) until problems is called.
func browser(t *testing.T) (ctx context.Context, problems func() []string) {
	t.Helper()
	path := chromiumPath(t)
	if testing.Short() {
		t.Skip("browser test skipped in -short mode")
	}
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-extensions", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(390, 844),
	}
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(allocCtx, chromedp.WithErrorf(t.Logf))
	t.Cleanup(func() { cancelCtx(); cancelAlloc() })
	// The first action starts the browser; it must not run under a
	// timeout, which would stop the browser with it.
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("starting %s: %v", path, err)
	}

	consoleCtx, stopConsole := context.WithCancel(ctx)
	messages := chromedp.Console(consoleCtx)
	var (
		mu    sync.Mutex
		found []string
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for m, err := range messages {
			if err != nil {
				return
			}
			if m.Type != chromedp.ConsoleError && m.Type != chromedp.ConsoleException {
				continue
			}
			// The wrong-token step makes the browser log its 401.
			if strings.Contains(m.Text, "status of 401") || strings.HasSuffix(m.URL, "/favicon.ico") {
				continue
			}
			mu.Lock()
			found = append(found, string(m.Type)+": "+m.Text+" ("+m.URL+")")
			mu.Unlock()
		}
	}()
	return ctx, func() []string {
		stopConsole()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return found
	}
}

// screenshot saves a full-page PNG to $KCI_SCREENSHOT_DIR when set.
func screenshot(name string) chromedp.Action[chromedp.Void] {
	dir := os.Getenv("KCI_SCREENSHOT_DIR")
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		if dir == "" {
			return nil
		}
		buf, err := chromedp.FullScreenshot(100)(ctx, t)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644)
	})
}

// clearField empties an input the way a user selecting all and deleting
// would (chromedp's SetValue refuses the empty string).
func clearField(id string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[bool](`(document.getElementById(`+strconv.Quote(id)+`).value = "", true)`)(ctx, t)
		return err
	})
}

// run runs one action that returns a value, failing the test on error.
func run[T any](t *testing.T, ctx context.Context, a chromedp.Action[T]) T {
	t.Helper()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// do runs steps, failing the test on error.
func do(t *testing.T, ctx context.Context, steps ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	if err := chromedp.Do(ctx, steps...); err != nil {
		t.Fatal(err)
	}
}

// TestInvitePagesInBrowser: an admin invites a user through the invite
// page, the link it shows is opened, the password is set on the
// acceptance page, and the new user logs in through the API.
func TestInvitePagesInBrowser(t *testing.T) {
	t.Parallel()
	browserCtx, problems := browser(t)
	ctx, cancel := context.WithTimeout(browserCtx, 90*time.Second)
	defer cancel()
	e := newEnv(t)
	admin := e.token("admin", superuser)
	e.addGroup("kernelci")
	const password = "correct horse, battery staple!"
	id := func(s string) chromedp.ID { return chromedp.ID(s) }

	do(t, ctx,
		// A phone.
		chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2), chromedp.EmulateMobile),
		chromedp.Navigate(e.base+"/latest/user/invite"),
		chromedp.WaitVisible(id("invite-form")),
		screenshot("invite-empty"),
		// A wrong token first: the page says so.
		chromedp.SendKeys(id("token"), "not-a-token"),
		chromedp.SendKeys(id("username"), "webuser"),
		chromedp.SendKeys(id("email"), "webuser@example.org"),
		chromedp.SendKeys(id("groups"), " kernelci , "),
		chromedp.Click(id("submit")),
		chromedp.WaitVisible(id("result")),
	)
	if got := run(t, ctx, chromedp.Text(id("result-text"))); !strings.Contains(got, "admin token is missing, wrong or expired") {
		t.Errorf("message for a wrong token: %q", got)
	}

	do(t, ctx,
		clearField("token"),
		chromedp.SendKeys(id("token"), admin),
		chromedp.Click(id("submit")),
		chromedp.WaitVisible(id("link-box")),
		screenshot("invite-done"),
	)
	link := run(t, ctx, chromedp.Value(id("invite-url")))
	if !strings.HasPrefix(link, e.base+"/user/accept-invite?token=") {
		t.Fatalf("invite link %q", link)
	}
	if got := run(t, ctx, chromedp.Text(id("result-text"))); !strings.Contains(got, "Invite created for webuser <webuser@example.org>") ||
		!strings.Contains(got, "No email was sent") {
		t.Errorf("result %q", got)
	}
	invited := e.storedUserByName("webuser")
	if invited.IsVerified || !reflect.DeepEqual(invited.GroupNames(), []string{"kernelci"}) {
		t.Errorf("invited user %+v", invited)
	}

	// The invitee opens the link.
	do(t, ctx,
		chromedp.Navigate(link),
		chromedp.WaitVisible(id("accept-form")),
		screenshot("accept-empty"),
	)
	if got := run(t, ctx, chromedp.Value(id("username"))); got != "webuser" {
		t.Errorf("username field %q", got)
	}
	// Two different passwords: refused by the page.
	do(t, ctx,
		chromedp.SendKeys(id("password"), password),
		chromedp.SendKeys(id("password2"), password+"?"),
		chromedp.Click(id("submit")),
		chromedp.WaitVisible(id("result")),
	)
	if got := run(t, ctx, chromedp.Text(id("result-text"))); got != "The two passwords differ." {
		t.Errorf("mismatch message %q", got)
	}
	do(t, ctx,
		clearField("password2"),
		chromedp.SendKeys(id("password2"), password),
		chromedp.Click(id("submit")),
		chromedp.WaitVisible(id("next")),
		screenshot("accept-done"),
	)
	if got := run(t, ctx, chromedp.Text(id("result-text"))); got != "Your account webuser is ready." {
		t.Errorf("after accepting: %q", got)
	}
	if hidden := run(t, ctx, chromedp.Evaluate[bool](`document.getElementById("accept-form").hidden`)); !hidden {
		t.Error("the form is still shown")
	}
	if got := run(t, ctx, chromedp.Text(id("login-cmd"))); !strings.Contains(got, e.base+"/user/login") {
		t.Errorf("login hint %q", got)
	}

	// Reopening the link says it was used.
	do(t, ctx, chromedp.Navigate(link), chromedp.WaitVisible(id("result")), screenshot("accept-used"))
	if got := run(t, ctx, chromedp.Text(id("result-text"))); got != "This invite has already been accepted." {
		t.Errorf("reopened link: %q", got)
	}

	// The new user logs in through the API.
	tok := e.loginWith("webuser", password).expect(http.StatusOK).object()["access_token"].(string)
	me := e.do(http.MethodGet, "/latest/whoami", tok, nil).expect(http.StatusOK).object()
	if me["username"] != "webuser" || me["is_verified"] != true || !reflect.DeepEqual(groupNames(me), []string{"kernelci"}) {
		t.Errorf("whoami %v", me)
	}
	if p := problems(); len(p) > 0 {
		t.Errorf("the browser reported problems:\n%s", strings.Join(p, "\n"))
	}
}
