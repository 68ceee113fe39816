// Shared helpers of the web pages (docs/ui.md): API calls relative to
// the page (so that /viewer and /latest/viewer both work), DOM building
// without innerHTML, status messages, and the live event stream.
"use strict";
const KCI = (() => {
  const statusBox = () => document.getElementById("status");

  // el builds an element: attrs (class, text, href, data-*, on*) and children.
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === undefined || v === null || v === false) continue;
      if (k === "text") e.textContent = v;
      else if (k === "class") e.className = v;
      else if (k.startsWith("on")) e.addEventListener(k.slice(2), v);
      else e.setAttribute(k, v === true ? "" : v);
    }
    for (const c of children.flat()) {
      if (c !== null && c !== undefined) e.append(c instanceof Node ? c : String(c));
    }
    return e;
  }

  // status shows a message: kind is "loading", "error", "" (info) or null (clear).
  function status(text, kind) {
    const s = statusBox();
    if (!s) return;
    s.className = "status" + (kind ? " " + kind : "");
    s.textContent = kind === null ? "" : text;
  }

  // api fetches a JSON answer; errors carry the server's detail and what to do.
  async function api(path, opts) { return (await apiPage(path, opts)).body; }

  // apiPage is api with the cursor of the next page (X-Next-Cursor of a
  // sorted or cursor-paged list; null on its last page).
  async function apiPage(path, opts) {
    let r;
    try {
      r = await fetch(path, opts);
    } catch (e) {
      throw new Error("The API server did not answer (" + e.message + "). Check your connection and reload the page.");
    }
    let body = null;
    const text = await r.text();
    try { body = text ? JSON.parse(text) : null; } catch (e) { body = text; }
    if (!r.ok) {
      let detail = body && body.detail !== undefined ? body.detail : text;
      if (typeof detail !== "string") detail = JSON.stringify(detail);
      const err = new Error(detail + " (HTTP " + r.status + ")");
      err.status = r.status;
      throw err;
    }
    return { body, next: r.headers.get("X-Next-Cursor") };
  }

  // advice says what to do after a failed call: errors of the network
  // already say it; the others depend on the status.
  function advice(e) {
    if (e.status === undefined) return "";
    if (e.status === 504 || e.status === 503 || e.status === 429) return " The server is busy or the query too large: choose a shorter window or a narrower filter, or retry in a moment.";
    if (e.status >= 500) return " Reload the page to try again; if it persists, tell the server's administrators.";
    return "";
  }

  // throttle returns a function that runs fn once, ms after its first
  // call since the last run: a burst of events causes one reload, and a
  // steady flow one every ms (a debounce would never run under it).
  function throttle(fn, ms) {
    let timer = null;
    return () => {
      if (timer !== null) return;
      timer = setTimeout(() => { timer = null; fn(); }, ms);
    };
  }

  // qs builds a query string from an object (arrays repeat the key).
  function qs(obj) {
    const p = new URLSearchParams();
    for (const [k, v] of Object.entries(obj)) {
      if (v === undefined || v === null || v === "") continue;
      for (const x of Array.isArray(v) ? v : [v]) p.append(k, x);
    }
    return p.toString();
  }

  // Wire datetimes are naive UTC.
  function parseTime(s) { return s ? new Date(s.endsWith("Z") ? s : s + "Z") : null; }
  function fmtTime(s) {
    const d = parseTime(s);
    return d ? d.toISOString().replace("T", " ").slice(0, 16) + " UTC" : "";
  }
  function isoAgo(ms) { return new Date(Date.now() - ms).toISOString().slice(0, 19); }

  function resultClass(r) { return "res res-" + (r || "none"); }
  function resultText(n) { return n.result || (n.state === "done" ? "none" : n.state); }

  // stream follows GET /stream (the node channel, filtered by params) and
  // calls onEvent for each event; the browser resumes after a dropped
  // connection with Last-Event-ID, losing nothing.
  function stream(params, onEvent) {
    if (!window.EventSource) return null;
    const es = new EventSource("stream" + (params ? "?" + qs(params) : ""));
    const live = document.getElementById("live");
    es.onopen = () => { if (live) live.hidden = false; };
    es.onerror = () => { if (live) live.hidden = true; };
    es.onmessage = (m) => {
      try { onEvent(JSON.parse(m.data)); } catch (e) { console.warn("stream event", e); }
    };
    return es;
  }

  // nodeRow is a table row of a node, linked to the viewer.
  function nodeRow(n) {
    return el("tr", { class: "res-row-" + (n.result || "none"), "data-id": n.id },
      el("td", { class: "name" }, el("a", { href: "viewer?node_id=" + encodeURIComponent(n.id), text: n.name })),
      el("td", { text: n.kind }),
      el("td", { text: n.state }),
      el("td", { class: resultClass(n.result), text: n.result || "–" }),
      el("td", { text: fmtTime(n.created) }));
  }

  return { el, status, api, apiPage, advice, throttle, qs, parseTime, fmtTime, isoAgo, resultClass, resultText, stream, nodeRow };
})();
