// /viewer: a node with its ancestry, fields, artifacts, data and children,
// updated live; node search; a tree's build matrix. docs/ui.md.
"use strict";
(() => {
  const { el, status, api, apiPage, qs, fmtTime, isoAgo, resultClass, nodeRow } = KCI;
  const $ = (id) => document.getElementById(id);
  const PAGE = 50;
  const hexID = /^[0-9a-f]{24}$/;
  const params = new URLSearchParams(location.search);
  let current = null;     // the node shown
  // The children's page: its cursor ("" = the first page, in creation
  // order), the cursors of the pages before it, its first row's index.
  let child = { after: "", back: [], start: 0 };

  function go(search, state) {
    history.pushState(state || null, "", "viewer" + (search ? "?" + search : ""));
    route();
  }

  // --- One node -------------------------------------------------------
  async function showNode(id, quiet) {
    $("results").hidden = true; $("trees").hidden = true;
    if (!quiet) status("Loading node " + id + "…", "loading");
    let n;
    try {
      n = await api("node/" + encodeURIComponent(id));
    } catch (e) {
      status("Could not load node " + id + ": " + e.message + (e.status === 400 ? " A node id is 24 hexadecimal characters: check the link." : KCI.advice(e)), "error");
      return;
    }
    if (!n) {
      $("node").hidden = true;
      status("There is no node with id " + id + ". It may have been purged; check the link, or search below.", "error");
      return;
    }
    const changed = current && current.id === n.id && current.updated !== n.updated;
    current = n;
    $("q").value = n.id;
    document.title = n.name + " · KernelCI";
    $("node-title").replaceChildren(n.name + " ", el("span", { class: resultClass(n.result), text: n.result || n.state }));
    fields(n);
    artifacts(n);
    data(n);
    $("raw").textContent = JSON.stringify(n, null, 2);
    $("node").hidden = false;
    if (changed) { $("node").classList.remove("flash"); void $("node").offsetWidth; $("node").classList.add("flash"); }
    status(null, null);
    crumbs(n);
    if (!quiet) child = { after: "", back: [], start: 0 };
    await children(n);
  }

  function fields(n) {
    const rows = [["id", n.id], ["kind", n.kind], ["name", n.name], ["state", n.state], ["result", n.result],
      ["group", n.group], ["owner", n.owner], ["submitter", n.submitter], ["treeid", n.treeid],
      ["path", (n.path || []).join(" / ")], ["created", fmtTime(n.created)], ["updated", fmtTime(n.updated)],
      ["timeout", fmtTime(n.timeout)], ["holdoff", fmtTime(n.holdoff)], ["retry_counter", n.retry_counter],
      ["jobfilter", n.jobfilter && n.jobfilter.join(", ")], ["platform_filter", n.platform_filter && n.platform_filter.join(", ")],
      ["user_groups", n.user_groups && n.user_groups.join(", ")], ["processed_by_kcidb_bridge", n.processed_by_kcidb_bridge]];
    const dl = $("fields");
    dl.replaceChildren();
    for (const [k, v] of rows) {
      if (v === null || v === undefined || v === "") continue;
      dl.append(el("dt", { text: k }), el("dd", { id: "f-" + k, text: String(v) }));
    }
    if (n.parent) dl.append(el("dt", { text: "parent" }), el("dd", {}, el("a", { href: "viewer?node_id=" + n.parent, text: n.parent })));
  }

  function artifacts(n) {
    const ul = $("artifacts");
    ul.replaceChildren();
    const entries = Object.entries(n.artifacts || {});
    if (!entries.length) ul.append(el("li", { class: "muted", text: "No artifacts." }));
    for (const [k, v] of entries) {
      const safe = /^https?:\/\//.test(v);
      ul.append(el("li", {}, safe ? el("a", { href: v, rel: "noopener noreferrer", text: k }) : k + ": " + v));
    }
  }

  function data(n) {
    const dl = $("data");
    dl.replaceChildren();
    const entries = Object.entries(n.data || {});
    if (!entries.length) dl.append(el("dt", { text: "—" }), el("dd", { class: "muted", text: "No data." }));
    for (const [k, v] of entries) {
      if (v && typeof v === "object" && !Array.isArray(v)) {
        for (const [k2, v2] of Object.entries(v)) dl.append(el("dt", { text: k + "." + k2 }), el("dd", { text: typeof v2 === "object" ? JSON.stringify(v2) : String(v2) }));
      } else {
        dl.append(el("dt", { text: k }), el("dd", { text: typeof v === "object" ? JSON.stringify(v) : String(v) }));
      }
    }
  }

  async function crumbs(n) {
    const chain = [];
    let p = n.parent;
    for (let i = 0; p && i < 12; i++) {
      let a;
      try { a = await api("node/" + p); } catch (e) { break; }
      if (!a) break;
      chain.unshift(a);
      p = a.parent;
    }
    if (current !== n) return;
    $("crumbs").replaceChildren(...chain.map((a) => el("a", { href: "viewer?node_id=" + a.id, text: a.name })),
      el("span", { "aria-current": "page", text: n.name }));
  }

  async function children(n) {
    const tb = $("children").tBodies[0];
    let res;
    try {
      // Cursor paging (docs/paging.md): page 100 costs what page 1 does.
      res = await apiPage("nodes?" + qs({ parent: n.id, limit: PAGE }) + "&after=" + encodeURIComponent(child.after));
    } catch (e) {
      status("Could not load the children: " + e.message + ". Reload the page to try again.", "error");
      return;
    }
    if (!current || current.id !== n.id) return;
    const page = res.body, at = child;
    tb.replaceChildren(...page.items.map(nodeRow));
    if (!page.items.length) tb.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: at.start ? "No more children." : "No children." })));
    $("child-count").textContent = "(" + page.total + ")";
    pager("child", at.start, page.items.length, page.total,
      at.back.length ? () => { child = { after: at.back[at.back.length - 1], back: at.back.slice(0, -1), start: Math.max(0, at.start - PAGE) }; children(current); } : null,
      res.next && at.start + page.items.length < page.total ? () => { child = { after: res.next, back: [...at.back, at.after], start: at.start + page.items.length }; children(current); } : null);
  }

  // pager sets a table's Previous and Next buttons (null: disabled) and
  // its "first–last of total" line.
  function pager(prefix, start, count, total, prev, next) {
    const p = $(prefix + "-prev"), n = $(prefix + "-next"), focused = document.activeElement;
    p.disabled = !prev; n.disabled = !next;
    p.onclick = prev; n.onclick = next;
    $(prefix + "-page").textContent = total ? (count ? (start + 1) + "–" + (start + count) : "none") + " of " + total : "";
    // Keep the keyboard's place when the button it pressed goes away.
    if (focused === p && !prev && next) n.focus();
    if (focused === n && !next && prev) p.focus();
  }

  // --- Live updates -----------------------------------------------------
  // At most one reload of the children every 200 ms, however many of
  // them change.
  const reloadChildren = KCI.throttle(() => { if (current) children(current); }, 200);
  KCI.stream(null, (ev) => {
    const d = ev.data || {};
    if (!current) return;
    if (d.id === current.id) { showNode(current.id, true); return; }
    const path = d.path || [], mine = current.path || [];
    if (path.length === mine.length + 1 && mine.every((s, i) => path[i] === s)) {
      reloadChildren();
    }
  });

  // --- Search -----------------------------------------------------------
  // The newest nodes first (sort=-created), paged by cursor: the URL
  // keeps the query, the cursor and the first row's index, so any page
  // can be shared. A query may set its own sort, limit or offset.
  async function search(q, after, start) {
    $("node").hidden = true; $("trees").hidden = true; current = null;
    $("q").value = q;
    status("Searching…", "loading");
    const p = new URLSearchParams(q.replace(/^\?/, ""));
    if (!p.has("sort")) p.set("sort", "-created");
    if (!p.has("limit")) p.set("limit", PAGE);
    const cursor = !p.has("offset");
    if (cursor) p.set("after", after || "");
    let res;
    try {
      res = await apiPage("nodes?" + p.toString());
    } catch (e) {
      status("The search failed: " + e.message + ". Write filters as field=value joined with &, e.g. kind=kbuild&result=fail.", "error");
      $("results").hidden = true;
      return;
    }
    const page = res.body, tb = $("found").tBodies[0];
    if (!cursor) start = page.offset;
    tb.replaceChildren(...page.items.map(nodeRow));
    if (!page.items.length) tb.append(el("tr", {}, el("td", { colspan: 5, class: "muted",
      text: start ? "No more nodes: go back to the previous page." : "No node matches. Check the field names and values, or widen the query." })));
    $("result-count").textContent = "(" + page.total + ")";
    $("results").hidden = false;
    status(null, null);
    // Previous: back where Next came from, or the first page of a
    // shared link.
    const prev = start > 0 && cursor ? () => (history.state && history.state.next ? history.back() : go(qs({ q }))) : null;
    const next = cursor && res.next && start + page.items.length < page.total
      ? () => go(qs({ q, after: res.next, start: start + page.items.length }), { next: true }) : null;
    pager("found", start, page.items.length, page.total, prev, next);
  }

  // --- Trees ------------------------------------------------------------
  async function trees(tree, branch) {
    $("node").hidden = true; $("results").hidden = true; current = null;
    $("trees").hidden = false;
    status("Loading trees…", "loading");
    const pick = $("tree-pick");
    try {
      const st = await api("stats/nodes?" + qs({ kind: "checkout", group_by: "data.kernel_revision.tree,data.kernel_revision.branch",
        created__gt: isoAgo(90 * 864e5) }));
      pick.replaceChildren(el("option", { value: "", text: st.groups.length ? "Choose a tree…" : "No checkout in 90 days" }),
        ...st.groups.filter((g) => g["data.kernel_revision.tree"]).map((g) => {
          const v = g["data.kernel_revision.tree"] + "\n" + g["data.kernel_revision.branch"];
          return el("option", { value: v, selected: g["data.kernel_revision.tree"] === tree && g["data.kernel_revision.branch"] === branch,
            text: g["data.kernel_revision.tree"] + " / " + g["data.kernel_revision.branch"] + " (" + g.count + " checkouts)" });
        }));
    } catch (e) {
      status("Could not list the trees: " + e.message + KCI.advice(e), "error");
      return;
    }
    pick.onchange = () => {
      const [t, b] = pick.value.split("\n");
      go(qs({ view: "trees", tree: t, branch: b }));
    };
    status(null, null);
    if (tree) await matrix(tree, branch);
  }

  async function matrix(tree, branch) {
    const m = $("matrix");
    status("Loading the build matrix…", "loading");
    const rev = { "data.kernel_revision.tree": tree, "data.kernel_revision.branch": branch };
    try {
      // The newest checkouts, newest first.
      const cos = await api("nodes?" + qs({ kind: "checkout", ...rev, sort: "-created", limit: 8 }));
      const commits = [...new Set(cos.items.map((c) => c.data.kernel_revision.commit))];
      if (!commits.length) { m.replaceChildren(); status("No checkout of " + tree + "/" + branch + ".", ""); return; }
      const st = await api("stats/nodes?" + qs({ kind: "kbuild", ...rev, "data.kernel_revision.commit__in": commits.join(","),
        group_by: "data.config_full,data.kernel_revision.commit,result" }));
      const cells = new Map(), configs = new Set();
      for (const g of st.groups) {
        const cfg = g["data.config_full"] || "(none)";
        configs.add(cfg);
        const key = cfg + "\n" + g["data.kernel_revision.commit"];
        const c = cells.get(key) || { pass: 0, fail: 0, incomplete: 0, other: 0 };
        const r = g.result in c ? g.result : "other";
        c[r] += g.count;
        cells.set(key, c);
      }
      const head = el("tr", {}, el("th", { class: "commit", text: "config \\ commit" }),
        ...commits.map((c) => el("th", { title: c, text: c.slice(0, 12) })));
      const rows = [...configs].sort().map((cfg) => el("tr", {}, el("td", { class: "label", text: cfg }),
        ...commits.map((commit) => {
          const c = cells.get(cfg + "\n" + commit);
          if (!c) return el("td", {}, el("span", { class: "cell empty", text: "–" }));
          const q = qs({ kind: "kbuild", ...rev, "data.kernel_revision.commit": commit, "data.config_full": cfg === "(none)" ? "null" : cfg });
          return el("td", {}, el("a", { class: "cell", href: "viewer?" + qs({ q }), title: cfg + " at " + commit },
            ...["pass", "fail", "incomplete", "other"].filter((k) => c[k]).map((k) => el("span", { class: "c-" + k, text: c[k] }))));
        })));
      m.replaceChildren(el("thead", {}, head), el("tbody", {}, rows));
      status(configs.size ? null : "No build of these commits yet.", configs.size ? null : "");
    } catch (e) {
      status("Could not load the build matrix: " + e.message + KCI.advice(e), "error");
    }
  }

  // --- Routing ----------------------------------------------------------
  function route() {
    const p = new URLSearchParams(location.search);
    const id = p.get("node_id"), q = p.get("q"), view = p.get("view");
    if (id) return showNode(id.trim());
    if (q) return search(q, p.get("after") || "", Number(p.get("start")) || 0);
    if (view === "trees") return trees(p.get("tree"), p.get("branch"));
    $("node").hidden = true; $("results").hidden = true; $("trees").hidden = true; current = null;
    status("Enter a node id or a query above, or browse the trees.", "");
  }
  $("search").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const v = $("q").value.trim();
    if (!v) return;
    go(hexID.test(v) ? qs({ node_id: v }) : qs({ q: v.replace(/^\?/, "") }));
  });
  window.addEventListener("popstate", route);
  route();
  void params;
})();
