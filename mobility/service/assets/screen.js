// The command centre's screen: reads the plan service's JSON API with a token held in memory only.
// All text goes into the page through textContent or attribute values, never as markup (ids are user data).
"use strict";

(() => {
  const SVG = "http://www.w3.org/2000/svg";
  const POLL_MS = 3000;
  let token = null;          // in this closure only: never in a URL, a cookie or storage
  let cursor = null;         // updated_since of the next poll
  let timer = null;
  let intersections = [];
  let plans = [];
  let selected = null;
  let scopes = [];
  let view = null;           // [x, y, w, h] of the map's viewBox
  const $ = (id) => document.getElementById(id);

  function el(tag, attrs, text) {
    const e = tag === "svg" || ["g", "circle", "rect", "line", "text", "title"].includes(tag)
      ? document.createElementNS(SVG, tag) : document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }

  function setStatus(text) { $("status").textContent = text; }

  class Unauthorised extends Error {}
  class Forbidden extends Error {}

  async function api(path) {
    const r = await fetch(path, { headers: { Authorization: "Bearer " + token, Accept: "application/json" },
                                  cache: "no-store", credentials: "omit" });
    if (r.status === 401) throw new Unauthorised("the token was refused");
    if (r.status === 403) throw new Forbidden("the token lacks the scope for " + path);
    if (!r.ok) throw new Error(path + ": HTTP " + r.status);
    return r.json();
  }

  // ---- sign-in ------------------------------------------------------------------------------------------
  function signOut(message) {
    token = null; cursor = null; selected = null; intersections = []; plans = []; scopes = [];
    if (timer) { clearInterval(timer); timer = null; }
    $("main").hidden = true; $("signout").hidden = true; $("signin").hidden = false;
    $("map").replaceChildren(); $("detail-body").replaceChildren(); $("audit-table").tBodies[0].replaceChildren();
    $("signin-error").textContent = message || "";
    setStatus("");
    delete document.body.dataset.ready;
  }

  async function signIn(ev) {
    ev.preventDefault();
    const t0 = performance.now();
    token = $("token").value.trim();
    $("token").value = "";
    try {
      await loadAll();
    } catch (e) {
      signOut(e instanceof Unauthorised ? "The service refused this token." : e.message);
      return;
    }
    $("signin").hidden = true; $("main").hidden = false; $("signout").hidden = false; $("signin-error").textContent = "";
    drawMap();
    document.body.dataset.renderMs = String(Math.round(performance.now() - t0));
    document.body.dataset.ready = "1";
    loadAudit();
    timer = setInterval(poll, POLL_MS);
  }

  // ---- data ---------------------------------------------------------------------------------------------
  async function loadAll() {
    const me = await api("/whoami");   // a refused token stops here, before any data is asked for
    scopes = me.scopes;
    const [ints, pls, pub] = await Promise.all([api("/intersections"), api("/plans"), api("/published")]);
    intersections = ints; plans = pls; cursor = pub.cursor;
    setStatus(`${ints.length} junctions, ${pls.length} plans; updated ${new Date().toLocaleTimeString()}`);
  }

  async function poll() {
    if (!token) return;
    try {
      const q = cursor ? "?updated_since=" + encodeURIComponent(cursor) : "";
      const pub = await api("/published" + q);
      if (pub.versions.length) {
        cursor = pub.cursor;
        plans = await api("/plans");
        drawMap();
        loadAudit();
        if (selected && pub.versions.some((v) => v.junction === selected)) showJunction(selected);
      }
      setStatus(`${intersections.length} junctions, ${plans.length} plans; updated ${new Date().toLocaleTimeString()}`);
    } catch (e) {
      if (e instanceof Unauthorised) signOut("The token is no longer valid; sign in again.");
      else setStatus("refresh failed: " + e.message);
    }
  }

  function junctionState(id) {
    const ps = plans.filter((p) => p.junction === id);
    if (ps.some((p) => p.published_version !== null)) return "published";
    if (ps.some((p) => p.latest_state === "draft" || p.latest_state === "approved")) return "pending";
    if (ps.some((p) => p.latest_state === "retired")) return "retired";
    return "none";
  }

  // ---- the map ------------------------------------------------------------------------------------------
  function drawMap() {
    const svg = $("map");
    const placed = intersections.filter((j) => Array.isArray(j.position) && j.position.length === 2);
    const xs = placed.map((j) => j.position[0]), ys = placed.map((j) => -j.position[1]);
    let x0 = Math.min(...xs, 0), x1 = Math.max(...xs, 1), y0 = Math.min(...ys, 0), y1 = Math.max(...ys, 1);
    if (!placed.length) { x0 = 0; y0 = 0; x1 = 100; y1 = 100; }
    const span = Math.max(x1 - x0, y1 - y0, 1);
    // junctions without coordinates: a row of their own below the others
    const loose = intersections.filter((j) => !placed.includes(j));
    const step = span / Math.max(Math.ceil(Math.sqrt(loose.length || 1)), 1);
    const pos = new Map(placed.map((j) => [j.id, [j.position[0], -j.position[1]]]));
    loose.forEach((j, k) => {
      const per = Math.ceil(Math.sqrt(loose.length));
      pos.set(j.id, [x0 + (k % per) * step, y1 + step * (1 + Math.floor(k / per))]);
    });
    if (loose.length) y1 += step * (1 + Math.ceil(loose.length / Math.ceil(Math.sqrt(loose.length))));
    // circles a third of the distance to the nearest other junction (at most a twentieth of the map)
    const pts = [...pos.values()];
    let near = Infinity;
    for (let a = 0; a < pts.length; a++) {
      for (let b = a + 1; b < pts.length; b++) {
        const dd = Math.hypot(pts[a][0] - pts[b][0], pts[a][1] - pts[b][1]);
        if (dd > 0 && dd < near) near = dd;
      }
    }
    const r = Math.max(Math.min(near / 3, span / 20), span / 400);
    const m = Math.max(span * 0.05, 1.5 * r);
    if (!view) view = [x0 - m, y0 - m, x1 - x0 + 2 * m, y1 - y0 + 2 * m];
    svg.setAttribute("viewBox", view.join(" "));
    const g = el("g");
    for (const j of intersections) {
      const [x, y] = pos.get(j.id);
      const state = junctionState(j.id);
      const c = el("circle", { cx: x, cy: y, r: r, class: state + (j.id === selected ? " selected" : ""),
                               "data-junction": j.id, "data-state": state, tabindex: 0 });
      c.appendChild(el("title", {}, `${j.id}: ${state}`));
      c.addEventListener("click", () => showJunction(j.id));
      c.addEventListener("keydown", (e) => { if (e.key === "Enter") showJunction(j.id); });
      g.appendChild(c);
    }
    svg.replaceChildren(g);
    const counts = {};
    for (const j of intersections) { const s = junctionState(j.id); counts[s] = (counts[s] || 0) + 1; }
    $("map-count").textContent = Object.entries(counts).map(([k, v]) => `${v} ${k}`).join(", ");
  }

  function panZoom() {
    const svg = $("map");
    let drag = null;
    svg.addEventListener("wheel", (e) => {
      if (!view) return;
      e.preventDefault();
      const box = svg.getBoundingClientRect();
      const fx = (e.clientX - box.left) / box.width, fy = (e.clientY - box.top) / box.height;
      const k = e.deltaY > 0 ? 1.2 : 1 / 1.2;
      const [x, y, w, h] = view;
      view = [x + fx * w * (1 - k), y + fy * h * (1 - k), w * k, h * k];
      svg.setAttribute("viewBox", view.join(" "));
    }, { passive: false });
    svg.addEventListener("pointerdown", (e) => { drag = [e.clientX, e.clientY]; });
    window.addEventListener("pointerup", () => { drag = null; });
    svg.addEventListener("pointermove", (e) => {
      if (!drag || !view) return;
      const box = svg.getBoundingClientRect();
      const [x, y, w, h] = view;
      view = [x - (e.clientX - drag[0]) * w / box.width, y - (e.clientY - drag[1]) * h / box.height, w, h];
      drag = [e.clientX, e.clientY];
      svg.setAttribute("viewBox", view.join(" "));
    });
  }

  // ---- a junction ---------------------------------------------------------------------------------------
  async function showJunction(id) {
    selected = id;
    for (const c of $("map").querySelectorAll("circle")) c.classList.toggle("selected", c.dataset.junction === id);
    $("detail-title").textContent = "Junction " + id;
    const body = $("detail-body");
    const mine = plans.filter((p) => p.junction === id);
    if (!mine.length) { body.replaceChildren(el("p", {}, "No plan is stored for this junction.")); return; }
    const parts = [];
    for (const p of mine) {
      const versions = await api(`/plans/${p.plan}/versions`);
      versions.sort((a, b) => b.version - a.version);
      parts.push(el("h3", {}, `Plan ${p.name} (${versions.length} version${versions.length === 1 ? "" : "s"})`));
      versions.forEach((v, k) => parts.push(versionView(v, versions[k + 1])));
    }
    if (selected === id) body.replaceChildren(...parts);
  }

  function versionView(v, older) {
    const box = el("div", { class: "version", "data-version": v.version, "data-plan": v.plan });
    const h = el("h3");
    h.append(el("span", { class: "state " + v.state }, v.state), " version " + v.version);
    box.appendChild(h);
    const sp = v.signal_plan || {};
    const val = sp.validity || {};
    const rows = [
      ["valid", `${(val.days || []).join(", ")} ${clock(val.start_s)}-${clock(val.end_s)}`],
      ["cycle / offset", `${num(sp.cycle_s)} s / ${num(sp.offset_s)} s`],
      ["author", v.author], ["approved by", v.approved_by || "-"], ["published by", v.published_by || "-"],
      ["retired by", v.retired_by || "-"], ["created", v.created_at], ["updated", v.updated_at], ["comment", v.comment || ""],
    ];
    for (const [k, x] of Object.entries(v.kpis || {})) rows.push(["KPI " + k, num(x)]);
    for (const [k, x] of Object.entries(v.provenance || {})) rows.push(["provenance " + k, typeof x === "object" ? JSON.stringify(x) : x]);
    const t = el("table");
    for (const [k, x] of rows) { const tr = el("tr"); tr.append(el("th", {}, k), el("td", {}, x)); t.appendChild(tr); }
    box.appendChild(timeline(sp));
    box.appendChild(t);
    if (older) box.appendChild(el("p", { class: "diff" }, "Changes from version " + older.version + ": " + diff(older.signal_plan || {}, sp)));
    return box;
  }

  function timeline(sp) {
    const stages = sp.stages || [];
    const total = stages.reduce((a, s) => a + s.green_s + s.yellow_s + s.all_red_s, 0) || 1;
    const svg = el("svg", { class: "timeline", viewBox: `0 0 ${total} 30`, preserveAspectRatio: "none",
                            "data-cycle": total });
    let t = 0;
    stages.forEach((s, k) => {
      for (const [kind, d] of [["green", s.green_s], ["yellow", s.yellow_s], ["allred", s.all_red_s]]) {
        if (d <= 0) continue;
        const r = el("rect", { x: t, y: 0, width: d, height: 30, class: kind, "data-stage": k, "data-kind": kind,
                               "data-start": t, "data-end": t + d });
        r.appendChild(el("title", {}, `stage ${k + 1}${s.name ? " " + s.name : ""}: ${kind} ${num(d)} s`));
        svg.appendChild(r);
        t += d;
      }
    });
    const wrap = el("div", { class: "timeline-box" });
    wrap.appendChild(svg);
    wrap.appendChild(el("p", { class: "timeline-legend" }, stages.map((s, k) =>
      `${s.name || "stage " + (k + 1)}: green ${num(s.green_s)} s, yellow ${num(s.yellow_s)} s, all-red ${num(s.all_red_s)} s`
    ).join(" | ")));
    return wrap;
  }

  function diff(a, b) {
    const out = [];
    for (const k of ["cycle_s", "offset_s"]) if (a[k] !== b[k]) out.push(`${k} ${num(a[k])} -> ${num(b[k])}`);
    const sa = a.stages || [], sb = b.stages || [];
    if (sa.length !== sb.length) out.push(`stages ${sa.length} -> ${sb.length}`);
    for (let k = 0; k < Math.min(sa.length, sb.length); k++) {
      for (const f of ["green_s", "yellow_s", "all_red_s"]) {
        if (sa[k][f] !== sb[k][f]) out.push(`stage ${k + 1} ${f} ${num(sa[k][f])} -> ${num(sb[k][f])}`);
      }
    }
    if (JSON.stringify(a.validity) !== JSON.stringify(b.validity)) out.push("validity changed");
    return out.length ? out.join("; ") : "none";
  }

  function num(x) { return typeof x === "number" ? (Number.isInteger(x) ? String(x) : x.toFixed(1)) : String(x ?? "-"); }
  function clock(s) {
    if (typeof s !== "number") return "-";
    const h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60);
    return `${String(h).padStart(2, "0")}:${String(m).padStart(2, "0")}`;
  }

  // ---- the audit trail ----------------------------------------------------------------------------------
  async function loadAudit() {
    const status = $("audit-status"), tbody = $("audit-table").tBodies[0];
    if (!scopes.includes("audit:read")) {
      status.textContent = "The audit trail needs a token with the audit:read scope.";
      tbody.replaceChildren();
      return;
    }
    try {
      const check = await api("/audit/verify");
      status.replaceChildren(
        el("span", { class: check.ok ? "ok" : "bad", "data-ok": check.ok }, check.ok ? "chain intact" : "chain broken"),
        ` (${check.records} records${check.ok ? "" : "; first bad record " + check.first_bad_seq + ": " + check.problem}); head `,
        el("span", { class: "hash", id: "audit-head" }, check.head));
      const recs = await api(`/audit?after_seq=${Math.max(0, check.records - 50)}&limit=50`);
      recs.reverse();
      tbody.replaceChildren(...recs.map((r) => {
        const tr = el("tr");
        tr.append(el("td", {}, r.seq), el("td", {}, r.at), el("td", {}, r.actor), el("td", {}, r.action), el("td", {}, r.resource));
        return tr;
      }));
    } catch (e) {
      if (e instanceof Forbidden) status.textContent = "The audit trail needs a token with the audit:read scope.";
      else if (e instanceof Unauthorised) signOut("The token is no longer valid; sign in again.");
      else status.textContent = "audit: " + e.message;
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    $("signin-form").addEventListener("submit", signIn);
    $("signout").addEventListener("click", () => signOut(""));
    panZoom();
  });
})();
