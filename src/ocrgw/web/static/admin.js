// ocrgw operator page: the admin API's client and the page's controller. Loads the keys (with their
// limits, tiers and subscriptions), the usage per key and the queue per key, and sends the forms' changes.
// Every name a person typed is put on the page as text, never as HTML. <body data-state> says idle,
// loading, ready or error, for tests.

import { ApiError } from "./api.js";

const KEY_STORAGE = "ocrgw.admin.apiKey";
const MB = 1024 * 1024;
const $ = (id) => document.getElementById(id);
let tiers = [];
let keys = [];

async function call(path, { method = "GET", body } = {}) {
  const headers = { "X-API-Key": $("admin-key").value.trim() };
  if (body !== undefined) headers["Content-Type"] = "application/json";
  let response;
  try {
    response = await fetch(new URL(path, document.baseURI), {
      method, headers, body: body === undefined ? undefined : JSON.stringify(body), cache: "no-store",
    });
  } catch (exc) {
    throw new ApiError(0, "NetworkError", `Could not reach the server: ${exc.message}`);
  }
  if (!response.ok) {
    let err = null;
    try { err = (await response.json()).error; } catch { /* not JSON */ }
    throw new ApiError(response.status, (err && err.code) || "HttpError", (err && err.message) || response.statusText,
      err && err.param);
  }
  return response.status === 204 ? null : response.json();
}

function showError(err) {
  $("error").textContent = err instanceof ApiError ? err.describe() : String(err && err.message ? err.message : err);
  $("error").hidden = false;
  document.body.dataset.state = "error";
}

function notice(...parts) {
  const box = $("notice");
  box.replaceChildren(...parts.map((p) => (typeof p === "string" ? document.createTextNode(p) : p)));
  box.hidden = false;
}

function node(tag, text, attrs = {}) {
  const n = document.createElement(tag);
  if (text !== undefined && text !== null) n.textContent = String(text);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  return n;
}

function summary(l) {
  const parts = [];
  if (l.rate) parts.push(`${l.rate}/${l.rate_seconds}s` + (l.burst ? ` burst ${l.burst}` : ""));
  if (l.concurrent_jobs !== null) parts.push(`${l.concurrent_jobs} jobs at once`);
  if (l.pages_quota !== null) parts.push(`${l.pages_quota} pages/${l.quota_period}`);
  if (l.max_document_pages !== null) parts.push(`first ${l.max_document_pages} pages`);
  if (l.max_file_bytes !== null) parts.push(`≤ ${+(l.max_file_bytes / MB).toFixed(2)} MB`);
  if (l.backlog_share !== null) parts.push(`${l.backlog_share} of backlog`);
  return `${l.service}: ${parts.join(", ") || "no limit"}`;
}

function subscriptionText(s) {
  if (s.package_calls === null) return `${s.service} (${s.calls} calls, pay-per-use)`;
  return `${s.service} (package ${s.package_used}/${s.package_calls}, ${s.pay_per_use_calls} pay-per-use)`;
}

function keyRow(k, use, queue) {
  const tr = node("tr", null, { "data-testid": "key-row", "data-key-id": k.id, "data-name": k.name });
  if (k.revoked_at) tr.classList.add("revoked");
  const cells = [
    node("td", k.name + (k.admin ? " (admin)" : ""), { "data-testid": "key-name" }),
    node("td"),
    node("td", k.revoked_at ? `revoked ${k.revoked_at.slice(0, 10)}` : "active", { "data-testid": "key-state" }),
    node("td", null, { "data-testid": "key-tiers" }),
    node("td", null, { "data-testid": "key-limits" }),
    node("td", null, { "data-testid": "key-subscriptions" }),
    node("td", use.calls, { class: "num", "data-testid": "key-calls" }),
    node("td", use.pages, { class: "num", "data-testid": "key-pages" }),
    node("td", queue.queued, { class: "num", "data-testid": "key-queued" }),
    node("td", queue.running, { class: "num", "data-testid": "key-running" }),
    node("td"),
  ];
  cells[1].append(node("code", k.id.slice(0, 8), { title: k.id }));
  for (const t of k.tiers) cells[3].append(node("span", t, { class: "tag" }));
  cells[4].append(...k.limits.map((l) => node("div", summary(l))));
  if (k.subscription_required) cells[5].append(node("div", "required"));
  cells[5].append(...k.subscriptions.map((s) => node("div", subscriptionText(s))));
  const mine = k.prefix === $("admin-key").value.trim().slice(0, 8); // the key this page calls with
  if (mine) cells[10].append(node("span", "this page's key", { class: "muted" }));
  else if (!k.revoked_at) cells[10].append(revokeButton(k));
  tr.append(...cells);
  return tr;
}

function revokeButton(k) {
  // Two clicks: the first asks, the second revokes (no modal dialog to get in a keyboard's way).
  const b = node("button", "Revoke", { type: "button", class: "danger", "data-testid": "revoke" });
  b.addEventListener("click", () => {
    if (b.dataset.armed !== "true") {
      b.dataset.armed = "true";
      b.textContent = "Confirm revoke";
      return;
    }
    act(async () => {
      await call(`v1/admin/keys/${encodeURIComponent(k.id)}/revoke`, { method: "POST" });
      notice(`Revoked ${k.name}: it stops working within seconds; its jobs still run.`);
    });
  });
  return b;
}

function fillKeySelects() {
  for (const select of document.querySelectorAll("select.key-list")) {
    const chosen = select.value;
    select.replaceChildren(...keys.filter((k) => !k.revoked_at).map((k) => node("option", `${k.name} (${k.id.slice(0, 8)})`, { value: k.id })));
    if (keys.some((k) => k.id === chosen)) select.value = chosen;
  }
}

async function load() {
  document.body.dataset.state = "loading";
  $("error").hidden = true;
  const [keyList, usage, queue] = await Promise.all([call("v1/admin/keys"), call("v1/usage"), call("v1/admin/queue")]);
  if (!tiers.length) await loadTiers();
  keys = keyList.items;
  const use = {};
  for (const r of usage.items) {
    const u = (use[r.key_id] ||= { calls: 0, pages: 0 });
    u.calls += r.calls;
    u.pages += r.pages;
  }
  const waiting = Object.fromEntries(queue.items.map((q) => [q.key_id, q]));
  const rows = keys.map((k) => keyRow(k, use[k.id] || { calls: 0, pages: 0 }, waiting[k.id] || { queued: 0, running: 0 }));
  $("keys").tBodies[0].replaceChildren(...rows);
  $("totals").textContent = `${keys.filter((k) => !k.revoked_at).length} active of ${keys.length}; ` +
    `${usage.calls} calls, ${usage.pages} pages; ${queue.queued} queued, ${queue.running} running`;
  fillKeySelects();
  document.body.dataset.state = "ready";
}

async function loadTiers() {
  const answer = await call("v1/admin/tiers");
  tiers = answer.items;
  for (const select of document.querySelectorAll("select.tiers")) {
    select.replaceChildren(...[...select.options].filter((o) => o.value === ""));
    select.append(...tiers.map((t) => node("option", `${t.name} (${t.services.join(", ")})`, { value: t.name })));
  }
  $("limit-service").replaceChildren(node("option", "* (every service together)", { value: "*" }));
  $("sub-service").replaceChildren();
  for (const s of answer.services) {
    $("limit-service").append(node("option", s, { value: s }));
    $("sub-service").append(node("option", s, { value: s }));
  }
  describeTier();
}

function describeTier() {
  const t = tiers.find((x) => x.name === $("tier-name").value);
  $("tier-about").textContent = t ? t.description : "";
}

function number(id, scale = 1) {
  const v = $(id).value.trim();
  return v === "" ? null : Math.round(Number(v) * scale);
}

function limitBody() {
  const share = $("limit-share").value.trim();
  return {
    rate: number("limit-rate"), rate_seconds: number("limit-seconds") || 1, burst: number("limit-burst"),
    concurrent_jobs: number("limit-concurrent"), pages_quota: number("limit-quota"),
    quota_period: $("limit-period").value, max_document_pages: number("limit-max-pages"),
    max_file_bytes: number("limit-max-mb", MB), backlog_share: share === "" ? null : Number(share),
  };
}

function act(work) {
  $("error").hidden = true;
  return work().then(load).catch(showError);
}

function on(id, event, work) {
  $(id).addEventListener(event, (e) => {
    e.preventDefault();
    act(work);
  });
}

function keyPath(selectId, rest = "") {
  const id = $(selectId).value;
  if (!id) throw new ApiError(0, "NoKey", "Choose a key first.");
  return `v1/admin/keys/${encodeURIComponent(id)}${rest}`;
}

$("admin-key").value = localStorage.getItem(KEY_STORAGE) || "";
$("key-form").addEventListener("submit", (e) => {
  e.preventDefault();
  localStorage.setItem(KEY_STORAGE, $("admin-key").value.trim());
  tiers = [];
  load().catch(showError);
});
$("refresh").addEventListener("click", () => load().catch(showError));
$("tier-name").addEventListener("change", describeTier);
on("create-form", "submit", async () => {
  const body = { name: $("create-name").value, admin: $("create-admin").checked };
  if ($("create-tier").value) body.tier = $("create-tier").value;
  const made = await call("v1/admin/keys", { method: "POST", body });
  notice(`Created ${made.key.name}. Its secret, shown only now: `,
    node("code", made.secret, { "data-testid": "new-secret" }));
  $("create-name").value = "";
});
on("tier-form", "submit", async () => {
  await call(keyPath("tier-key"), { method: "PATCH", body: { tier: $("tier-name").value } });
  notice(`Applied ${$("tier-name").value}.`);
});
on("limit-form", "submit", async () => {
  const service = $("limit-service").value;
  await call(keyPath("limit-key", `/limits/${encodeURIComponent(service)}`), { method: "PUT", body: limitBody() });
  notice(`Set the limits for ${service}.`);
});
on("clear-limit", "click", async () => {
  const service = $("limit-service").value;
  await call(keyPath("limit-key", `/limits/${encodeURIComponent(service)}`), { method: "DELETE" });
  notice(`Dropped the row for ${service}.`);
});
on("sub-form", "submit", async () => {
  const service = $("sub-service").value;
  const pkg = number("sub-package");
  await call(keyPath("sub-key", `/subscriptions/${encodeURIComponent(service)}`), { method: "PUT", body: { package_calls: pkg } });
  notice(`Subscribed to ${service}.`);
});
on("unsubscribe", "click", async () => {
  const service = $("sub-service").value;
  await call(keyPath("sub-key", `/subscriptions/${encodeURIComponent(service)}`), { method: "DELETE" });
  notice(`Unsubscribed from ${service}.`);
});
if ($("admin-key").value) load().catch(showError);
