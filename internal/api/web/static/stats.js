// /stats: node results by kind over 24 h, 48 h or 7 days (docs/ui.md).
"use strict";
(() => {
  const { el, status, api, qs, isoAgo } = KCI;
  const $ = (id) => document.getElementById(id);
  const buttons = [...document.querySelectorAll(".tabs button")];

  // byKind folds /stats/nodes groups into per-kind result counts.
  function byKind(groups) {
    const kinds = new Map();
    for (const g of groups) {
      const k = kinds.get(g.kind) || { kind: g.kind, total: 0, pass: 0, fail: 0, incomplete: 0, other: 0 };
      const r = ["pass", "fail", "incomplete"].includes(g.result) ? g.result : "other";
      k[r] += g.count;
      k.total += g.count;
      kinds.set(g.kind, k);
    }
    return [...kinds.values()].sort((a, b) => b.total - a.total);
  }

  async function load(hours) {
    for (const b of buttons) b.setAttribute("aria-pressed", String(b.dataset.hours === String(hours)));
    status("Counting nodes of the last " + hours + " hours…", "loading");
    let st;
    try {
      st = await api("stats/nodes?" + qs({ group_by: "kind,result", created__gt: isoAgo(hours * 36e5) }));
    } catch (e) {
      status("Could not count the nodes: " + e.message + KCI.advice(e), "error");
      return;
    }
    const kinds = byKind(st.groups);
    const max = Math.max(1, ...kinds.map((k) => k.total));
    $("bars").replaceChildren(...kinds.flatMap((k) => [
      el("span", { text: k.kind }),
      el("span", { class: "track", role: "img", "aria-label": `${k.kind}: ${k.pass} pass, ${k.fail} fail, ${k.incomplete} incomplete, ${k.other} other` },
        ...["pass", "fail", "incomplete", "other"].map((r) => {
          const i = el("i", { class: "c-" + r });
          i.style.width = (100 * k[r] / max) + "%";
          return i;
        })),
      el("span", { text: k.total })]));
    const tb = $("table").tBodies[0];
    tb.replaceChildren(...kinds.map((k) => el("tr", { "data-kind": k.kind },
      el("td", {}, el("a", { href: "viewer?" + qs({ q: qs({ kind: k.kind, created__gt: isoAgo(hours * 36e5) }) }), text: k.kind })),
      el("td", { class: "total", text: k.total }), el("td", { class: "res-pass", text: k.pass }), el("td", { class: "res-fail", text: k.fail }),
      el("td", { class: "res-incomplete", text: k.incomplete }), el("td", { text: k.other }),
      el("td", { text: k.pass + k.fail ? Math.round(100 * k.pass / (k.pass + k.fail)) + " %" : "–" }))));
    if (!kinds.length) tb.append(el("tr", {}, el("td", { colspan: 7, class: "muted", text: "No node was created in this window." })));
    status(null, null);
    history.replaceState(null, "", "stats?" + qs({ hours }));
  }
  for (const b of buttons) b.addEventListener("click", () => load(Number(b.dataset.hours)));
  const h = Number(new URLSearchParams(location.search).get("hours"));
  load([24, 48, 168].includes(h) ? h : 24);
})();
