// /manage: with a token (kept in this page's memory only), who you are,
// a custom checkout, and your recent checkouts. docs/ui.md.
"use strict";
(() => {
  const { el, status, api, qs, nodeRow } = KCI;
  const $ = (id) => document.getElementById(id);
  let token = "", me = null;
  const auth = () => ({ Authorization: "Bearer " + token });
  const list = (s) => s.split(",").map((x) => x.trim()).filter(Boolean);

  $("token-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    token = $("token").value.trim();
    if (!token) { status("Paste your API token first (kernelci-api or usermanager prints it at login).", "error"); return; }
    status("Checking the token…", "loading");
    try {
      me = await api("whoami", { headers: auth() });
    } catch (e) {
      me = null;
      $("submit-card").hidden = $("mine-card").hidden = true;
      $("whoami").textContent = "";
      status(e.status === 401 ? "This token is missing, wrong or expired: log in again for a new one." : "Could not check the token: " + e.message, "error");
      return;
    }
    $("whoami").textContent = "Signed in as " + me.username + (me.is_superuser ? " (superuser)" : "") +
      (me.groups && me.groups.length ? ", groups: " + me.groups.map((g) => g.name).join(", ") : "") + ".";
    $("submit-card").hidden = $("mine-card").hidden = false;
    status(null, null);
    mine();
  });

  async function mine() {
    const tb = $("mine").tBodies[0];
    try {
      const f = qs({ kind: "checkout", owner: me.username });
      const page = await api("nodes?" + f + "&" + qs({ sort: "-created", limit: 20 }));
      tb.replaceChildren(...page.items.map(nodeRow));
      if (!page.items.length) tb.append(el("tr", {}, el("td", { colspan: 5, class: "muted", text: "You have no checkout yet." })));
    } catch (e) {
      status("Could not list your checkouts: " + e.message + KCI.advice(e), "error");
    }
  }

  $("checkout-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const node = {
      kind: "checkout", name: "checkout", path: ["checkout"],
      data: { kernel_revision: { tree: $("tree").value.trim(), branch: $("branch").value.trim(), url: $("url").value.trim(), commit: $("commit").value.trim() } },
    };
    const jobs = list($("jobfilter").value), platforms = list($("platforms").value);
    if (jobs.length) node.jobfilter = jobs;
    if (platforms.length) node.platform_filter = platforms;
    $("checkout-go").disabled = true;
    status("Submitting…", "loading");
    try {
      const n = await api("node", { method: "POST", headers: { ...auth(), "Content-Type": "application/json" }, body: JSON.stringify(node) });
      $("submitted").replaceChildren("Checkout submitted: ", el("a", { id: "submitted-link", href: "viewer?node_id=" + n.id, text: n.id }), ".");
      status(null, null);
      mine();
    } catch (e) {
      status("The checkout was refused: " + e.message + (e.status === 401 ? " Check your token." : " Correct the form and submit again."), "error");
    } finally {
      $("checkout-go").disabled = false;
    }
  });
  status("Paste your API token to start.", "");
})();
