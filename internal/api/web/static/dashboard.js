// /dashboard: builds, test suites and tests per commit of a tree and
// branch, as pass/fail/incomplete cells; the URL keeps the choice.
"use strict";
(() => {
  const { el, status, api, qs, isoAgo } = KCI;
  const $ = (id) => document.getElementById(id);
  const ROWS = [["kbuild", "Builds"], ["job", "Test suites"], ["test", "Tests"]];
  const REV = "data.kernel_revision.";
  const MAX_COMMITS = 15;

  function state() {
    const p = new URLSearchParams(location.search);
    return { tree: p.get("tree") || "", branch: p.get("branch") || "", days: Number(p.get("days")) || 7 };
  }

  async function trees(s) {
    const st = await api("stats/nodes?" + qs({ kind: "checkout", group_by: REV + "tree," + REV + "branch", created__gt: isoAgo(s.days * 864e5) }));
    const opts = st.groups.filter((g) => g[REV + "tree"]).map((g) => ({ tree: g[REV + "tree"], branch: g[REV + "branch"], n: g.count }));
    if (!s.tree && opts.length) { s.tree = opts[0].tree; s.branch = opts[0].branch; }
    $("tree").replaceChildren(...opts.map((o) => el("option", { value: o.tree + "\n" + o.branch, selected: o.tree === s.tree && o.branch === s.branch,
      text: o.tree + " / " + o.branch + " (" + o.n + ")" })));
    if (!opts.length) $("tree").append(el("option", { value: "", text: "No checkout in this window" }));
    return opts.length > 0;
  }

  async function load() {
    const s = state();
    $("days").value = String(s.days);
    status("Loading results…", "loading");
    try {
      if (!(await trees(s))) { $("grid").replaceChildren(); status("No checkout in the last " + s.days + " days: choose a longer window.", ""); return; }
      const since = isoAgo(s.days * 864e5);
      const rev = { [REV + "tree"]: s.tree, [REV + "branch"]: s.branch, created__gt: since };
      const st = await api("stats/nodes?" + qs({ ...rev, "kind__in": ROWS.map((r) => r[0]).join(","), group_by: REV + "commit,kind,result" }));
      // The newest checkouts of the branch give the commits, newest first.
      const cos = await api("nodes?" + qs({ ...rev, kind: "checkout", sort: "-created", limit: 100 }));
      const order = new Map();
      for (const c of cos.items) {
        const commit = c.data && c.data.kernel_revision && c.data.kernel_revision.commit;
        if (commit && !order.has(commit)) order.set(commit, c.created);
      }
      const commits = [...order.keys()];
      const shown = commits.slice(0, MAX_COMMITS);
      const cells = new Map();
      for (const g of st.groups) {
        const key = g[REV + "commit"] + "\n" + g.kind;
        const c = cells.get(key) || { pass: 0, fail: 0, incomplete: 0, other: 0, total: 0 };
        c[["pass", "fail", "incomplete"].includes(g.result) ? g.result : "other"] += g.count;
        c.total += g.count;
        cells.set(key, c);
      }
      const head = el("tr", {}, el("th", { class: "commit", text: "commit" }), ...ROWS.map((r) => el("th", { text: r[1] })));
      const body = shown.map((commit) => el("tr", {},
        el("td", { class: "label" }, el("code", { title: commit, text: (commit || "?").slice(0, 12) }), " ",
          el("span", { class: "muted", text: KCI.fmtTime(order.get(commit)) })),
        ...ROWS.map(([kind]) => {
          const c = cells.get(commit + "\n" + kind);
          const filter = { ...rev, [REV + "commit"]: commit, kind };
          if (!c) return el("td", {}, el("span", { class: "cell empty", text: "–", "data-count": 0, "data-query": qs(filter) }));
          return el("td", {}, el("a", { class: "cell", href: "viewer?" + qs({ q: qs(filter) }), "data-count": c.total, "data-query": qs(filter),
            title: `${kind} at ${commit}: ${c.pass} pass, ${c.fail} fail, ${c.incomplete} incomplete, ${c.other} other` },
            ...["pass", "fail", "incomplete", "other"].filter((k) => c[k]).map((k) => el("span", { class: "c-" + k, text: c[k] }))));
        })));
      $("grid").replaceChildren(el("thead", {}, head), el("tbody", {}, body));
      status(shown.length ? null : "No commit of " + s.tree + "/" + s.branch + " in this window: choose a longer window or another tree.", shown.length ? null : "");
    } catch (e) {
      status("Could not load the dashboard: " + e.message + KCI.advice(e), "error");
    }
  }

  function set(change) {
    const s = { ...state(), ...change };
    history.pushState(null, "", "dashboard?" + qs(s));
    load();
  }
  $("tree").addEventListener("change", () => { const [tree, branch] = $("tree").value.split("\n"); set({ tree, branch }); });
  $("days").addEventListener("change", () => set({ days: Number($("days").value) }));
  $("pick").addEventListener("submit", (e) => e.preventDefault());
  window.addEventListener("popstate", load);
  // Live: a result of the shown branch changes the counts; at most one
  // reload every 2 s however many results come.
  const reload = KCI.throttle(load, 2000);
  KCI.stream({ state: "done" }, (ev) => {
    const s = state(), kr = ((ev.data || {}).data || {}).kernel_revision || {};
    if (!s.tree || (kr.tree === s.tree && kr.branch === s.branch)) reload();
  });
  load();
})();
