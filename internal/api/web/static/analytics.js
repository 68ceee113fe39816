// /analytics: telemetry over a window: totals, result breakdowns by
// kind, runtime, device type and tree, anomalies, recent infrastructure
// errors. Every number is counted by the server. docs/ui.md.
"use strict";
(() => {
  const { el, status, api, qs, fmtTime } = KCI;
  const $ = (id) => document.getElementById(id);
  const HOURS = { "1h": 1, "3h": 3, "6h": 6, "12h": 12, "24h": 24, "48h": 48 };
  const pct = (x) => Math.round(100 * x) + " %";
  const empty = (cols, text) => el("tr", {}, el("td", { colspan: cols, class: "muted", text }));

  function bars(box, rows, field) {
    const max = Math.max(1, ...rows.map((r) => r.total));
    box.replaceChildren(...rows.slice(0, 12).flatMap((r) => [
      el("span", { text: r[field] === null ? "(none)" : r[field] }),
      el("span", { class: "track", role: "img", "aria-label": `${r.pass} pass, ${r.fail} fail, ${r.incomplete} incomplete, ${r.skip} skip` },
        ...[["pass", r.pass], ["fail", r.fail], ["incomplete", r.incomplete], ["other", r.skip]].map(([c, n]) => {
          const i = el("i", { class: "c-" + c });
          i.style.width = (100 * n / max) + "%";
          return i;
        })),
      el("span", { text: r.total + (r.infra_error ? " (" + r.infra_error + " infra)" : "") })]));
    if (!rows.length) box.replaceChildren(el("span", { class: "muted", text: "No telemetry in this window." }));
  }

  async function load() {
    const w = new URLSearchParams(location.search).get("window") || "24h";
    const hours = HOURS[w] || 24;
    $("window").value = hours === HOURS[w] ? w : "24h";
    const since = new Date(Date.now() - hours * 36e5).toISOString().slice(0, 19);
    status("Loading telemetry of the last " + w + "…", "loading");
    try {
      const [kinds, runtimes, devices, treesRows, anomalies] = await Promise.all([
        api("telemetry/stats?" + qs({ group_by: "kind", since })),
        api("telemetry/stats?" + qs({ group_by: "runtime", since })),
        api("telemetry/stats?" + qs({ group_by: "device_type", since })),
        api("telemetry/stats?" + qs({ group_by: "tree", since })),
        api("telemetry/anomalies?" + qs({ window: w in HOURS ? w : "24h" })),
      ]);
      const sum = (k) => kinds.reduce((a, r) => a + r[k], 0);
      const total = sum("total");
      $("kpis").replaceChildren(...[["Events", total], ["Pass", sum("pass")], ["Fail", sum("fail")], ["Incomplete", sum("incomplete")],
        ["Infra errors", sum("infra_error")], ["Anomalies", anomalies.result_anomalies.length]].map(([k, v]) =>
        el("div", { class: "kpi" }, k, el("b", { text: v }))));
      bars($("by-kind"), kinds, "kind");
      bars($("by-runtime"), runtimes, "runtime");
      bars($("by-device_type"), devices, "device_type");
      bars($("by-tree"), treesRows, "tree");
      const at = $("anomalies").tBodies[0];
      at.replaceChildren(...anomalies.result_anomalies.map((a) => el("tr", {},
        el("td", { text: a.runtime || "–" }), el("td", { text: a.device_type || "–" }), el("td", { text: a.total }),
        el("td", { class: a.infra_rate >= 0.5 ? "res-fail" : "", text: pct(a.infra_rate) }),
        el("td", { class: a.fail_rate >= 0.5 ? "res-fail" : "", text: pct(a.fail_rate) }),
        el("td", { class: "name", text: [a.latest_error_type, a.latest_error_msg].filter(Boolean).join(": ") || "–" }))));
      if (!anomalies.result_anomalies.length) at.append(empty(6, "No anomaly: every runtime and device type is below the threshold."));
      const et = $("errors").tBodies[0];
      et.replaceChildren(...anomalies.error_anomalies.map((a) => el("tr", {},
        el("td", { text: a.runtime || "–" }), el("td", { text: a.error_type || "–" }), el("td", { text: a.count }))));
      if (!anomalies.error_anomalies.length) et.append(empty(3, "No runtime error or skip."));
      // The newest infrastructure errors: the last page in insertion order.
      const f = qs({ is_infra_error: "true", since });
      const first = await api("telemetry?" + f + "&limit=1");
      const page = await api("telemetry?" + f + "&" + qs({ limit: 20, offset: Math.max(0, first.total - 20) }));
      const it = $("infra").tBodies[0];
      it.replaceChildren(...page.items.reverse().map((e) => el("tr", {},
        el("td", { text: fmtTime(e.ts) }), el("td", { text: e.runtime }), el("td", { text: e.device_type || "–" }),
        el("td", { text: e.job_name || "–" }), el("td", { class: "name", text: [e.error_type, e.error_msg].filter(Boolean).join(": ") || "–" }))));
      if (!page.items.length) it.append(empty(5, "No infrastructure error in this window."));
      status(null, null);
    } catch (e) {
      status((e.status === 503 ? "This server keeps no telemetry: " : "Could not load the telemetry: ") + e.message + (e.status === 503 ? "" : KCI.advice(e)), "error");
    }
  }
  $("window").addEventListener("change", () => { history.pushState(null, "", "analytics?" + qs({ window: $("window").value })); load(); });
  $("pick").addEventListener("submit", (e) => e.preventDefault());
  window.addEventListener("popstate", load);
  load();
})();
