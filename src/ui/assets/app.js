// The ecs-emulator dashboard: shows the request journal, the state and the invocations, and
// changes them through the control-plane routes (the same ones curl uses). No framework, no
// build step. Every value from the emulator is written with textContent, never as HTML: the
// journal holds whatever a caller sent. Times are shown exactly as the API wrote them (UTC).
"use strict";

const API = "/_emulator";
const TOKEN_COOKIE = "ecs_emulator_token";
const INTERVALS = { requests: 1000, state: 2000, invocations: 2000, controls: 2000 };

// ---------------------------------------------------------------------------------------------
// Small DOM helpers

const $ = (id) => document.getElementById(id);

/** An element with a class (or none) and text content (or children). */
function el(tag, className, content) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (Array.isArray(content)) node.append(...content.filter((c) => c !== null));
  else if (content !== undefined && content !== null) node.textContent = String(content);
  return node;
}

/** A table row of cells; each cell is text or a node. */
function row(cells, className) {
  return el("tr", className, cells.map((c) => (c instanceof Node ? el("td", "", [c]) : el("td", "", c))));
}

/** Shows a result line: a success in plain text, a refusal in the error style. */
function showResult(id, text, isError) {
  const node = $(id);
  node.textContent = text;
  node.classList.toggle("error", Boolean(isError));
}

// ---------------------------------------------------------------------------------------------
// The control-plane client

/** A refusal of the control plane: its HTTP status and `{code, message}`. */
class ApiError extends Error {
  constructor(status, code, message) {
    super(`${status} ${code}: ${message}`);
    this.status = status;
    this.code = code;
  }
}

/** The admin token the login page keeps in a cookie, or null. */
function token() {
  const pair = document.cookie.split("; ").find((c) => c.startsWith(TOKEN_COOKIE + "="));
  return pair ? decodeURIComponent(pair.slice(TOKEN_COOKIE.length + 1)) : null;
}

/** Forgets a refused token and reloads, so that the login page asks again. */
function forgetToken() {
  document.cookie = `${TOKEN_COOKIE}=; Path=/_emulator/ui; Max-Age=0; SameSite=Strict`;
  location.reload();
}

/** Calls a control-plane route; answers the parsed JSON (null for 204), throws ApiError. */
async function api(method, path, body) {
  const headers = {};
  const t = token();
  if (t) headers.Authorization = "Bearer " + t;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(API + path, init);
  if (response.status === 401) {
    forgetToken();
    throw new ApiError(401, "Unauthorized", "the admin token was refused");
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!response.ok) {
    const code = data && data.code ? data.code : "HTTP" + response.status;
    throw new ApiError(response.status, code, data && data.message ? data.message : text);
  }
  return data;
}

/** A query string of the non-empty values (and of those whose key is in `keepEmpty`). */
function query(params, keepEmpty = []) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) {
    if (v !== "" && v !== null && v !== undefined) q.set(k, v);
    else if (keepEmpty.includes(k)) q.set(k, "");
  }
  const s = q.toString();
  return s ? "?" + s : "";
}

// ---------------------------------------------------------------------------------------------
// Tabs (arrow keys move between them, as ARIA tabs do)

const VIEWS = ["requests", "state", "invocations", "controls"];
let currentView = "requests";

function selectView(name, focus) {
  if (!VIEWS.includes(name)) name = "requests";
  currentView = name;
  for (const v of VIEWS) {
    const tab = $("tab-" + v);
    const selected = v === name;
    tab.setAttribute("aria-selected", String(selected));
    tab.tabIndex = selected ? 0 : -1;
    $("view-" + v).hidden = !selected;
  }
  if (focus) $("tab-" + name).focus();
  if (location.hash !== "#" + name) history.replaceState(null, "", "#" + name);
  refreshSoon();
}

function setUpTabs() {
  for (const v of VIEWS) {
    const tab = $("tab-" + v);
    tab.addEventListener("click", () => selectView(v, false));
    tab.addEventListener("keydown", (event) => {
      const step = { ArrowRight: 1, ArrowLeft: -1 }[event.key];
      if (!step) return;
      event.preventDefault();
      const next = VIEWS[(VIEWS.indexOf(v) + step + VIEWS.length) % VIEWS.length];
      selectView(next, true);
    });
  }
}

// ---------------------------------------------------------------------------------------------
// Polling: the visible view every 1-2 s, one fetch at a time, none while hidden or paused

const poller = { timer: null, running: false, again: false, live: true };

/** Refreshes now, or right after the refresh in flight. */
function refreshSoon() {
  if (poller.running) {
    poller.again = true;
    return;
  }
  clearTimeout(poller.timer);
  runRefresh();
}

async function runRefresh() {
  poller.running = true;
  try {
    await REFRESHERS[currentView]();
    await refreshClock();
    $("last-refresh").textContent = new Date().toISOString().replace(/\.\d+Z$/, "Z");
    $("poll-error").hidden = true;
  } catch (e) {
    $("poll-error").textContent = "Refresh failed: " + e.message;
    $("poll-error").hidden = false;
  } finally {
    poller.running = false;
  }
  if (poller.again) {
    poller.again = false;
    runRefresh();
    return;
  }
  schedule();
}

function schedule() {
  clearTimeout(poller.timer);
  if (poller.live && !document.hidden) {
    poller.timer = setTimeout(runRefresh, INTERVALS[currentView]);
  }
}

function setUpLiveToggle() {
  const button = $("live-toggle");
  button.addEventListener("click", () => {
    poller.live = !poller.live;
    button.setAttribute("aria-pressed", String(poller.live));
    button.textContent = poller.live ? "Live: on" : "Live: paused";
    if (poller.live) refreshSoon();
    else clearTimeout(poller.timer);
  });
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden && poller.live) refreshSoon();
  });
}

// ---------------------------------------------------------------------------------------------
// The clock (header and Controls)

let lastClock = null;

async function refreshClock() {
  const clock = await api("GET", "/clock");
  lastClock = clock;
  const mode = clock.real ? "real time" : clock.frozen ? "frozen" : "set, running";
  // Whole seconds, as the emulator writes every time (the clock's fraction is in the tooltip).
  const shown = wholeSeconds(clock.now);
  $("clock-status").textContent = `${shown} (${mode})`;
  $("clock-status").title = clock.now;
  $("clock-status").className = clock.real ? "" : "clock-set";
  $("clock-now").textContent = shown;
  $("clock-now").title = clock.now;
  $("clock-mode").textContent = "(" + mode + ")";
}

/** An RFC 3339 time without its fraction of a second, as the API writes times. */
function wholeSeconds(time) {
  return time.replace(/\.\d+Z$/, "Z");
}

/** Runs a control action: shows its answer or its refusal in the result line, then refreshes. */
async function control(resultId, action, describe) {
  try {
    const answer = await action();
    showResult(resultId, describe(answer), false);
  } catch (e) {
    showResult(resultId, "Refused: " + e.message, true);
  }
  refreshSoon();
}

/** The clock moved on by `seconds` from its current time, as RFC 3339 UTC. */
function movedOn(now, seconds) {
  const ms = Date.parse(now);
  if (Number.isNaN(ms)) throw new ApiError(0, "Clock", "cannot read the clock's time " + now);
  return new Date(ms + seconds * 1000).toISOString();
}

function setUpClock() {
  const clockText = (c) =>
    `Clock: ${wholeSeconds(c.now)}, ${c.real ? "real time" : c.frozen ? "frozen" : "running"}`;
  $("clock-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const now = $("clock-input").value.trim();
    const body = { frozen: $("clock-frozen").checked };
    if (now) body.now = now;
    control("clock-result", () => api("PUT", "/clock", body), clockText);
  });
  $("clock-freeze").addEventListener("click", () =>
    control("clock-result", () => api("PUT", "/clock", { frozen: true }), clockText));
  $("clock-real").addEventListener("click", () =>
    control("clock-result", () => api("DELETE", "/clock"), clockText));
  $("clock-advance").addEventListener("click", () =>
    control("clock-result", async () => {
      const current = await api("GET", "/clock");
      const seconds = Number($("clock-advance-seconds").value || 0);
      return api("PUT", "/clock", { now: movedOn(current.now, seconds), frozen: current.frozen });
    }, clockText));
}

// ---------------------------------------------------------------------------------------------
// Requests: the journal

const journal = {
  rows: new Map(), // requestId -> <tr>, kept across polls so that focus stays put
  selected: null, // the entry shown in the detail panel
  actions: new Set(),
};

/** The instance ids a request names (InstanceId or InstanceId.N). */
function instancesOf(entry) {
  return Object.entries(entry.params || {})
    .filter(([k]) => k === "InstanceId" || /^InstanceId\.\d+$/.test(k))
    .map(([, v]) => v);
}

function isRefused(entry) {
  return entry.status >= 400 || Boolean(entry.code);
}

async function fetchJournal() {
  const outcome = $("filter-outcome").value;
  const params = {
    limit: 200,
    action: $("filter-action").value.trim(),
    code: outcome === "ok" ? "" : $("filter-code").value.trim(),
    instanceId: $("filter-instance").value.trim(),
  };
  const path = "/requests" + query(params, outcome === "ok" ? ["code"] : []);
  return (await api("GET", path)).requests || [];
}

/** The entries the one filter the journal route lacks (refused only) keeps. */
function locallyFiltered(entries) {
  const refusedOnly = $("filter-outcome").value === "refused";
  return entries.filter((e) => !refusedOnly || isRefused(e));
}

async function refreshRequests() {
  const entries = locallyFiltered(await fetchJournal());
  renderJournal(entries);
  rememberActions(entries);
}

function rememberActions(entries) {
  for (const e of entries) {
    if (e.action && !journal.actions.has(e.action)) {
      journal.actions.add(e.action);
      $("known-actions").append(el("option", "", e.action));
    }
  }
}

/** One journal row; the action cell is a button, so the row is reachable with Tab + Enter. */
function journalRow(entry) {
  const refused = isRefused(entry);
  const open = el("button", "link", entry.action || (entry.params && entry.params.Action) || "(none)");
  open.type = "button";
  open.addEventListener("click", (event) => {
    event.stopPropagation();
    showRequest(entry);
  });
  const instances = instancesOf(entry);
  const inst = instances.length > 1 ? `${instances[0]} +${instances.length - 1}` : instances[0] || "";
  // The result: HTTP status, then for a refusal its code and (on the next line) its message.
  const result = el("div", "", [el("span", "status", entry.status), el("span", "", " "),
    refused ? el("strong", "code", entry.code || "") : el("span", "muted", "OK")]);
  if (refused && entry.message) result.append(el("span", "msg", entry.message));
  // The time, and under it the request id the caller was answered (x-acs-request-id).
  const when = el("div", "", [el("span", "mono", entry.time), el("span", "mono rid", entry.requestId)]);
  const tr = row([when, open, el("span", "mono", inst), result], refused ? "refused" : "ok");
  tr.dataset.requestId = entry.requestId;
  tr.addEventListener("click", () => showRequest(entry));
  return tr;
}

/** Puts the rows in the order of `entries`, creating only new rows and moving none. */
function renderJournal(entries) {
  const body = $("requests-body");
  const ids = new Set(entries.map((e) => e.requestId));
  for (const [id, tr] of journal.rows) {
    if (!ids.has(id)) {
      tr.remove();
      journal.rows.delete(id);
    }
  }
  entries.forEach((entry, i) => {
    let tr = journal.rows.get(entry.requestId);
    if (!tr) {
      tr = journalRow(entry);
      journal.rows.set(entry.requestId, tr);
    }
    if (body.children[i] !== tr) body.insertBefore(tr, body.children[i] || null);
    tr.classList.toggle("selected", journal.selected === entry.requestId);
  });
  $("requests-empty").hidden = entries.length > 0;
  $("requests-count").textContent = `${entries.length} shown`;
}

/** Fills the detail panel with one request: its facts, the message answered, its params. */
function showRequest(entry) {
  journal.selected = entry.requestId;
  for (const [id, tr] of journal.rows) tr.classList.toggle("selected", id === entry.requestId);
  $("request-detail-empty").hidden = true;
  $("request-detail-body").hidden = false;
  $("detail-request-id").textContent = entry.requestId;
  $("detail-time").textContent = entry.time;
  $("detail-method").textContent = entry.method;
  const asked = (entry.params && entry.params.Action) || "";
  $("detail-action").textContent = entry.action || `(not an action of the emulator: "${asked}")`;
  $("detail-status").textContent = String(entry.status);
  $("detail-code").textContent = entry.code || "(success)";
  $("detail-message").textContent = entry.message || "(none: the request succeeded)";
  $("request-detail").classList.toggle("refused", isRefused(entry));
  const params = $("detail-params");
  params.replaceChildren(...Object.entries(entry.params || {}).map(([k, v]) =>
    row([el("span", "mono", k), el("span", "mono wrap", v)])));
}

function setUpRequests() {
  for (const id of ["filter-action", "filter-code", "filter-instance"]) {
    $(id).addEventListener("input", refreshSoon);
  }
  $("filter-outcome").addEventListener("change", refreshSoon);
  $("request-filters").addEventListener("submit", (event) => event.preventDefault());
  $("request-detail-close").addEventListener("click", () => {
    journal.selected = null;
    for (const tr of journal.rows.values()) tr.classList.remove("selected");
    $("request-detail-body").hidden = true;
    $("request-detail-empty").hidden = false;
  });
}

// ---------------------------------------------------------------------------------------------
// State: accounts, regions, instances with plug-ins and agents

const stateView = { text: null, data: null };

async function fetchState() {
  const data = await api("GET", "/state");
  stateView.data = data;
  fillEventInstances(data.instances || []);
  return data;
}

async function refreshState() {
  const data = await fetchState();
  const key = JSON.stringify(data) + "\u0000" + $("state-filter").value;
  if (key === stateView.text) return; // nothing changed: keep the DOM (and any selection)
  stateView.text = key;
  renderAccounts(data.accounts || []);
  renderRegions(data.instances || []);
  renderInstances(data.instances || []);
}

function renderAccounts(accounts) {
  $("accounts-body").replaceChildren(...accounts.map((a) => {
    // Never show a secret: the id, whether it is enabled, and *** for the secret.
    const keys = (a.accessKeys || []).map((k) =>
      el("div", k.enabled ? "" : "muted", `${k.id} / *** ${k.enabled ? "" : "(disabled)"}`));
    return row([el("span", "mono", a.accountId), a.default ? "yes" : "", el("div", "", keys)]);
  }));
}

function renderRegions(instances) {
  const counts = new Map();
  for (const i of instances) counts.set(i.regionId, (counts.get(i.regionId) || 0) + 1);
  $("regions-body").replaceChildren(...[...counts].sort().map(([r, n]) => row([r, n])));
}

/** The instance's heading row: ids, OS and its Cloud Assistant agent. */
function instanceRow(inst) {
  const ca = inst.cloudAssistant || {};
  const agent = !ca.installed ? "agent not installed"
    : `agent ${ca.online ? "online" : "offline"}, ${ca.version || "no version"}` +
      `, last heartbeat ${ca.lastHeartbeatTime || "—"}`;
  const cell = el("th", "", [el("span", "mono id", inst.instanceId),
    el("span", "", ` ${inst.regionId} · account ${inst.accountId} · ${inst.osType || "Linux"} · `),
    el("span", ca.installed && ca.online ? "agent-ok" : "agent-off", agent)]);
  cell.colSpan = 5;
  cell.scope = "rowgroup";
  const tr = el("tr", "instance-row", [cell]);
  tr.dataset.instanceId = inst.instanceId;
  return tr;
}

function pluginRow(inst, p) {
  const tr = row([el("span", "mono", p.name), p.version, el("span", "badge status-" + p.status, p.status),
    el("span", "mono", p.firstHeartbeatTime || "—"), el("span", "mono", p.lastHeartbeatTime || "—")],
  "plugin-row");
  tr.dataset.instanceId = inst.instanceId;
  tr.dataset.plugin = p.name;
  return tr;
}

/** At most this many instances are drawn at once; the filter narrows a larger state. */
const MAX_INSTANCES_SHOWN = 500;

function renderInstances(instances) {
  const filter = $("state-filter").value.trim().toLowerCase();
  const matching = instances.filter((i) => !filter ||
    [i.instanceId, i.regionId, i.accountId, ...(i.plugins || []).map((p) => p.name)]
      .some((s) => String(s).toLowerCase().includes(filter)));
  const shown = matching.slice(0, MAX_INSTANCES_SHOWN);
  const rows = [];
  for (const inst of shown) {
    rows.push(instanceRow(inst));
    const plugins = inst.plugins || [];
    if (plugins.length === 0) rows.push(row([el("span", "muted", "no plug-in"), "", "", "", ""]));
    for (const p of plugins) rows.push(pluginRow(inst, p));
  }
  $("instances-body").replaceChildren(...rows);
  $("instances-count").textContent = shown.length < matching.length
    ? `the first ${shown.length} of ${matching.length} matching (${instances.length} in all): narrow the filter`
    : `${shown.length} of ${instances.length} instances`;
}

// ---------------------------------------------------------------------------------------------
// Invocations

const invocationsView = { text: null };

async function refreshInvocations() {
  const instanceId = $("invocations-instance").value.trim();
  const data = await api("GET", "/invocations" + query({ instanceId, limit: 100 }));
  const text = JSON.stringify(data);
  if (text === invocationsView.text) return;
  invocationsView.text = text;
  renderInvocations(data.invocations || []);
}

function invocationCard(inv) {
  const card = el("article", "invocation", [
    el("h3", "", [el("span", "mono", inv.invokeId), el("span", "", " "),
      el("span", "badge status-" + inv.invocationStatus, inv.invocationStatus)]),
    el("p", "muted", `${inv.commandName || inv.commandId} (${inv.commandType}) · command ${inv.commandId}` +
      ` · ${inv.regionId} · account ${inv.accountId} · created ${inv.creationTime}`),
    el("pre", "script", inv.content),
  ]);
  card.dataset.invokeId = inv.invokeId;
  const table = el("table", "grid runs", [
    el("thead", "", [el("tr", "", ["Instance", "Status", "Exit", "Error", "Start", "Finish", "Updated"]
      .map((h) => el("th", "", h)))]),
    el("tbody", "", (inv.instances || []).flatMap((r) => invocationRows(r))),
  ]);
  card.append(table);
  return card;
}

/** A run on one instance: its status line, then its output when there is some. */
function invocationRows(r) {
  const error = r.errorCode ? `${r.errorCode}: ${r.errorInfo}` : "";
  const tr = row([el("span", "mono", r.instanceId), el("span", "badge status-" + r.invocationStatus, r.invocationStatus),
    el("span", "exit", r.exitCode), error, el("span", "mono", r.startTime || "—"),
    el("span", "mono", r.finishTime || "—"), el("span", "mono", r.updateTime || "")], "run-row");
  tr.dataset.instanceId = r.instanceId;
  const output = el("td", "", [el("span", "muted", "output: "), el("pre", "output", r.output || "(none)")]);
  output.colSpan = 7;
  const out = el("tr", "output-row", [output]);
  out.dataset.instanceId = r.instanceId;
  return [tr, out];
}

function renderInvocations(invocations) {
  $("invocations-list").replaceChildren(...invocations.map(invocationCard));
  $("invocations-empty").hidden = invocations.length > 0;
  $("invocations-count").textContent = `${invocations.length} shown`;
}

// ---------------------------------------------------------------------------------------------
// Controls: fault rules, command rules, plug-in events, reset

const rulesView = { faults: null, rules: null };

async function refreshControls() {
  const [faults, rules] = await Promise.all([api("GET", "/faults"), api("GET", "/commands"), fetchState()]);
  renderRules("faults-body", "faults", faults.faults || [], "faultId", "/faults/", "fault-result");
  renderRules("rules-body", "rules", rules.rules || [], "ruleId", "/commands/", "rule-result");
}

/** A rule's fields but its id and fired count, as `key=value` pairs. */
function ruleText(rule) {
  return Object.entries(rule).filter(([k]) => k !== "id" && k !== "fired")
    .map(([k, v]) => `${k}=${JSON.stringify(v)}`).join("  ");
}

/** Rebuilds a rule table when it changed, keeping the focus on the same rule's button. */
function renderRules(bodyId, key, rules, dataKey, route, resultId) {
  const text = JSON.stringify(rules);
  if (text === rulesView[key]) return;
  rulesView[key] = text;
  const focused = document.activeElement && document.activeElement.dataset
    ? document.activeElement.dataset[dataKey] : undefined;
  const body = $(bodyId);
  body.replaceChildren(...rules.map((rule) => {
    const del = el("button", "danger", "Delete");
    del.type = "button";
    del.dataset[dataKey] = rule.id;
    del.setAttribute("aria-label", "Delete rule " + rule.id);
    del.addEventListener("click", () => control(resultId, () => api("DELETE", route + encodeURIComponent(rule.id)),
      () => `Deleted ${rule.id}`));
    const tr = row([el("span", "mono", rule.id), el("span", "mono wrap", ruleText(rule)),
      el("span", "fired", rule.fired), del]);
    tr.dataset[dataKey] = rule.id;
    return tr;
  }));
  if (rules.length === 0) body.append(row([el("span", "muted", "none"), "", "", ""]));
  if (focused) {
    const again = body.querySelector(`button[data-${dataKey === "faultId" ? "fault-id" : "rule-id"}="${CSS.escape(focused)}"]`);
    if (again) again.focus();
  }
}

/** The body of a form: each field's value, typed, left out when empty. */
function formBody(fields) {
  const body = {};
  for (const [key, id, type] of fields) {
    const value = $(id).value.trim();
    if (value === "") continue;
    body[key] = type === "number" ? Number(value) : value;
  }
  return body;
}

function setUpRules() {
  $("fault-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = formBody([["action", "fault-action"], ["regionId", "fault-region"], ["instanceId", "fault-instance"],
      ["code", "fault-code"], ["status", "fault-status", "number"], ["message", "fault-message"],
      ["latencyMs", "fault-latency", "number"], ["probability", "fault-probability", "number"],
      ["times", "fault-times", "number"]]);
    control("fault-result", () => api("POST", "/faults", body), (r) => `Added fault rule ${r.id}`);
  });
  $("faults-clear").addEventListener("click", () =>
    control("fault-result", () => api("DELETE", "/faults"), () => "Deleted every fault rule"));
  $("rule-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const body = formBody([["contentRegex", "rule-regex"], ["instanceId", "rule-instance"], ["regionId", "rule-region"],
      ["accountId", "rule-account"], ["exitCode", "rule-exit", "number"], ["output", "rule-output"],
      ["durationSeconds", "rule-duration", "number"], ["times", "rule-times", "number"]]);
    control("rule-result", () => api("POST", "/commands", body), (r) => `Added command rule ${r.id}`);
  });
  $("rules-clear").addEventListener("click", () =>
    control("rule-result", () => api("DELETE", "/commands"), () => "Deleted every command rule"));
}

/** Keeps the instance lists of the event and agent forms in step with the state (value:
 * account/instance), keeping each one's choice. */
function fillEventInstances(instances) {
  const values = instances.map((i) => `${i.accountId}/${i.instanceId}`);
  for (const select of [$("event-instance"), $("agent-instance")]) {
    const current = [...select.options].map((o) => o.value);
    if (values.join("\n") === current.join("\n")) continue;
    const chosen = select.value;
    select.replaceChildren(...instances.map((i) => {
      const option = el("option", "", `${i.instanceId} (${i.regionId}, ${i.accountId})`);
      option.value = `${i.accountId}/${i.instanceId}`;
      return option;
    }));
    if (values.includes(chosen)) select.value = chosen;
  }
  fillEventPlugins();
}

/** Suggests the chosen instance's plug-ins and the catalog's in the plug-in field. */
function fillEventPlugins() {
  const data = stateView.data;
  if (!data) return;
  const [accountId, instanceId] = $("event-instance").value.split("/");
  const inst = (data.instances || []).find((i) => i.instanceId === instanceId && i.accountId === accountId);
  const names = new Set([...(inst ? inst.plugins : []).map((p) => p.name), ...(data.catalog || []).map((c) => c.name)]);
  const list = $("event-plugins");
  const current = [...list.options].map((o) => o.value).join("\n");
  if (current !== [...names].join("\n")) list.replaceChildren(...[...names].map((n) => el("option", "", n)));
}

function setUpEvents() {
  $("event-instance").addEventListener("change", fillEventPlugins);
  $("event-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const [accountId, instanceId] = $("event-instance").value.split("/");
    const name = $("event-plugin").value.trim();
    const ev = $("event-name").value;
    const body = formBody([["version", "event-version"], ["type", "event-type"]]);
    const path = `/instances/${encodeURIComponent(instanceId)}/plugins/${encodeURIComponent(name)}/${ev}` +
      query({ accountId });
    control("event-result", () => api("POST", path, Object.keys(body).length ? body : undefined),
      (p) => `${ev} ${name} on ${instanceId}: now ${p.status}, version ${p.version}, last heartbeat ${p.lastHeartbeatTime || "—"}`);
  });
  $("agent-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const [accountId, instanceId] = $("agent-instance").value.split("/");
    const body = formBody([["version", "agent-version"]]);
    for (const key of ["installed", "online"]) {
      const value = $("agent-" + key).value;
      if (value) body[key] = value === "true";
    }
    const path = `/instances/${encodeURIComponent(instanceId)}/cloud-assistant` + query({ accountId });
    control("agent-result", () => api("PUT", path, body), (a) =>
      `Agent of ${instanceId}: ${a.installed ? "installed" : "not installed"}, ` +
      `${a.online ? "online" : "offline"}, version ${a.version || "—"}`);
  });
  $("reset-button").addEventListener("click", () =>
    control("reset-result", () => api("POST", "/reset"),
      (s) => `Reset: ${s.accounts} accounts, ${s.instances} instances in ${s.regions} regions, ${s.records} plug-in records`));
}

// ---------------------------------------------------------------------------------------------

const REFRESHERS = {
  requests: refreshRequests,
  state: refreshState,
  invocations: refreshInvocations,
  controls: refreshControls,
};

function start() {
  setUpTabs();
  setUpLiveToggle();
  setUpClock();
  setUpRequests();
  setUpRules();
  setUpEvents();
  $("state-filter").addEventListener("input", refreshSoon);
  $("state-filters").addEventListener("submit", (event) => event.preventDefault());
  $("invocations-instance").addEventListener("input", () => {
    invocationsView.text = null;
    refreshSoon();
  });
  $("invocation-filters").addEventListener("submit", (event) => event.preventDefault());
  selectView(location.hash.slice(1) || "requests", false);
}

start();
