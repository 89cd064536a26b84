// Drives the dashboard at /_emulator/ui in headless Chromium, as a tester would: logs in with
// the admin token, watches API requests appear, uses the controls (clock, fault rules, plug-in
// events, reset) with clicks and typing, and checks what the page shows.
//
//     node tests/browser/dashboard.js http://127.0.0.1:PORT     (see run.sh)
//
// The emulator serves the built-in demo data with ECS_EMULATOR_ADMIN_TOKEN set (the same value
// is in this process's environment). Prints `PASS name` / `FAIL name: why` lines and exits
// non-zero when any check failed. Screenshots go to SCREENSHOTS (default
// target/browser-screenshots).
"use strict";

const path = require("path");
const fs = require("fs");
const { chromium } = require("playwright-core");

const BASE = process.argv[2];
// A second emulator on the demo data with --signature strict and no admin token (optional).
const STRICT = process.env.STRICT_URL || "";
const TOKEN = process.env.ECS_EMULATOR_ADMIN_TOKEN || "";
const SHOTS = process.env.SCREENSHOTS || path.join(__dirname, "..", "..", "target", "browser-screenshots");
const WAIT = 10000; // ms to wait for the page to show something (it polls every 1-2 s)

// Demo-data facts the checks rely on (src/data/demo or `GET /_emulator/state` on a fresh start).
const ACCOUNT = "1234567890123456";
const RUN_INSTANCE = "i-bp1iudwa5b1tqa0001"; // Linux, agent online; ecs_tools_test Running
const EVENT_INSTANCE = "i-bp1iudwa5b1tqa0003"; // multi-nic-util Running
const OTHER_INSTANCE = "i-bp1iudwa5b1tqa0002";

let failures = 0;
let passes = 0;
function pass(name) {
  passes++;
  console.log("PASS " + name);
}
function fail(name, why) {
  failures++;
  console.log(`FAIL ${name}: ${String(why).replace(/\s+/g, " ").slice(0, 600)}`);
}
/** Runs one named check: PASS when it returns, FAIL with the error's message when it throws. */
async function check(name, fn) {
  try {
    await fn();
    pass(name);
    return true;
  } catch (e) {
    fail(name, e && e.message ? e.message : e);
    return false;
  }
}
function assert(cond, why) {
  if (!cond) throw new Error(why);
}

// ---------------------------------------------------------------------------------------------
// The API and the control plane, from Node (the page's controls are used through the page)

/** An API call (GET, unsigned: the emulator runs with --signature off). */
async function apiCall(params) {
  const q = new URLSearchParams({ Version: "2014-05-26", Format: "JSON", ...params });
  const response = await fetch(`${BASE}/?${q}`);
  return { status: response.status, body: await response.json() };
}

/** A control-plane read, to check what the page claims against the emulator. */
async function control(method, route) {
  const response = await fetch(BASE + "/_emulator" + route, {
    method,
    headers: TOKEN ? { Authorization: "Bearer " + TOKEN } : {},
  });
  const text = await response.text();
  return text ? JSON.parse(text) : null;
}

// ---------------------------------------------------------------------------------------------
// Page helpers

/** Waits until `fn(arg)` is true in the page. */
async function until(page, fn, arg, what) {
  try {
    await page.waitForFunction(fn, arg, { timeout: WAIT, polling: 100 });
  } catch (e) {
    throw new Error(`timed out waiting for ${what}`);
  }
}

/** Waits until the element matching `selector` has text containing `text`. */
async function untilText(page, selector, text) {
  await until(page, ([s, t]) => {
    const node = document.querySelector(s);
    return node !== null && node.textContent.includes(t);
  }, [selector, text], `"${text}" in ${selector}`);
}

async function text(page, selector) {
  return page.locator(selector).first().innerText();
}

async function openView(page, view) {
  await page.click("#tab-" + view);
  await until(page, (v) => !document.getElementById("view-" + v).hidden, view, `view ${view}`);
}

/** The ids of the journal rows shown, top to bottom. */
async function journalIds(page) {
  return page.$$eval("#requests-body tr[data-request-id]", (rows) => rows.map((r) => r.dataset.requestId));
}

async function widthOf(page) {
  return page.evaluate(() => document.documentElement.scrollWidth);
}

async function shot(page, name) {
  const file = path.join(SHOTS, name + ".png");
  await page.screenshot({ path: file, fullPage: true });
  return file;
}

// ---------------------------------------------------------------------------------------------

async function main() {
  assert(BASE, "usage: node dashboard.js http://HOST:PORT");
  fs.mkdirSync(SHOTS, { recursive: true });
  // Screenshots of an earlier run must not pass for this one's.
  for (const name of fs.readdirSync(SHOTS)) {
    if (name.endsWith(".png")) fs.unlinkSync(path.join(SHOTS, name));
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync", "--disable-quic"],
  });
  // Every console error and uncaught exception of the whole run, on every page. Chromium also
  // logs each HTTP refusal the page receives ("Failed to load resource: ... status of 409"); the
  // ones this test provokes on purpose are listed in `expectedRefusals` and not counted.
  const consoleErrors = [];
  const expectedRefusals = [];
  const newPage = async () => {
    const p = await browser.newPage({ viewport: { width: 1280, height: 800 } });
    p.on("console", (m) => {
      if (m.type() === "error") consoleErrors.push({ text: m.text(), url: (m.location() || {}).url || "" });
    });
    p.on("pageerror", (e) => consoleErrors.push({ text: "uncaught: " + e.message, url: "" }));
    return p;
  };
  const page = await newPage();

  const widths = {};
  const ids = {};

  // 1. Login ---------------------------------------------------------------------------------
  const loggedIn = await check("login: the page asks for the token, then the dashboard opens", async () => {
    assert(TOKEN, "ECS_EMULATOR_ADMIN_TOKEN is not set");
    // Without the token a browser gets the login page (200: asking is no console error), any
    // other client 401.
    const anonymous = await fetch(BASE + "/_emulator/ui");
    assert(anonymous.status === 401, `a client without the token: status ${anonymous.status}, wanted 401`);
    const response = await page.goto(BASE + "/_emulator/ui");
    assert(response.status() === 200, `status ${response.status()}, wanted 200 (the login page)`);
    assert(await page.isVisible("#token"), "no token field on the login page");
    assert((await page.$("#tab-requests")) === null, "the dashboard showed without the token");
    await page.fill("#token", TOKEN);
    await Promise.all([page.waitForNavigation(), page.press("#token", "Enter")]);
    await page.waitForSelector("#tab-requests", { timeout: WAIT });
    await untilText(page, "#clock-status", "Z");
    // A marker that a reload would lose: the views must update without one.
    await page.evaluate(() => { window.__noReload = true; });
  });
  if (!loggedIn) {
    await browser.close();
    return;
  }

  // 2. Requests ------------------------------------------------------------------------------
  await check("requests: good and refused API calls appear live, newest first", async () => {
    const good = await apiCall({ Action: "ListPluginStatus", RegionId: "cn-hangzhou", "InstanceId.1": RUN_INSTANCE });
    assert(good.status === 200, "the good call answered " + good.status);
    const other = await apiCall({ Action: "ListPluginStatus", RegionId: "cn-hangzhou", "InstanceId.1": OTHER_INSTANCE,
      Comment: "x".repeat(3000) }); // a long unbroken value: the detail must wrap it
    assert(other.status === 200, "the second good call answered " + JSON.stringify(other.body));
    const missing = await apiCall({ Action: "ListPluginStatus" });
    assert(missing.status === 400 && missing.body.Code === "MissingRegionId", "missing RegionId: " + JSON.stringify(missing.body));
    const unknown = await apiCall({ Action: "NoSuchAction", RegionId: "cn-hangzhou" });
    assert(unknown.status === 404, "unknown action answered " + unknown.status);
    Object.assign(ids, { good: good.body.RequestId, other: other.body.RequestId, missing: missing.body.RequestId,
      unknown: unknown.body.RequestId, missingMessage: missing.body.Message, unknownMessage: unknown.body.Message });
    await until(page, (list) => list.every((id) => document.querySelector(`tr[data-request-id="${id}"]`)),
      [ids.good, ids.other, ids.missing, ids.unknown], "the four requests in the journal");
    const shown = await journalIds(page);
    const order = [ids.unknown, ids.missing, ids.other, ids.good].map((id) => shown.indexOf(id));
    assert(order.every((v, i) => i === 0 || order[i - 1] < v), "not newest first: " + order);
    assert(await page.evaluate(() => window.__noReload === true), "the page reloaded");
    // The request id a caller was answered is on the page, to find its request by eye.
    const body = await page.innerText("#requests-body");
    assert(body.includes(ids.good), `the request id ${ids.good} is not shown`);
  });

  await check("requests: a refused request is marked with its code and status", async () => {
    const row = `tr[data-request-id="${ids.missing}"]`;
    assert(await page.$eval(row, (r) => r.classList.contains("refused")), "no class refused on the row");
    const t = await text(page, row);
    assert(t.includes("MissingRegionId") && t.includes("400"), "row text: " + t);
    assert(!(await page.$eval(`tr[data-request-id="${ids.good}"]`, (r) => r.classList.contains("refused"))),
      "the good request is marked refused");
    widths.requests = await widthOf(page);
  });

  await check("requests: clicking a refused one shows its params and message", async () => {
    await page.click(`tr[data-request-id="${ids.missing}"] td:first-child`);
    await untilText(page, "#detail-request-id", ids.missing);
    await shot(page, "request-detail");
    const params = await text(page, "#detail-params");
    assert(params.includes("Action") && params.includes("ListPluginStatus") && params.includes("Version"), "params: " + params);
    const message = await text(page, "#detail-message");
    assert(message.includes(ids.missingMessage), `message shown "${message}", answered "${ids.missingMessage}"`);
    assert(await page.$eval("#detail-message", (n) => n.tagName === "PRE"), "the message is not preformatted");
  });

  await check("requests: keyboard: Tab to a row and Enter opens it", async () => {
    await page.focus("#filter-instance");
    let reached = false;
    for (let i = 0; i < 12 && !reached; i++) {
      await page.keyboard.press("Tab");
      reached = await page.evaluate((id) => {
        const row = document.activeElement && document.activeElement.closest("tr");
        return Boolean(row && row.dataset.requestId === id);
      }, ids.unknown);
    }
    assert(reached, "Tab never reached the row of the unknown action");
    const outline = await page.evaluate(() => getComputedStyle(document.activeElement).outlineStyle);
    assert(outline !== "none", "no visible focus on the row's button");
    await page.keyboard.press("Enter");
    await untilText(page, "#detail-request-id", ids.unknown);
    await untilText(page, "#detail-code", "InvalidAction.NotFound");
    const message = await text(page, "#detail-message");
    assert(message.includes(ids.unknownMessage), `message shown "${message}"`);
  });

  await check("requests: the action, code and instance filters narrow the list", async () => {
    const rowsNow = async () => new Set(await journalIds(page));
    const filterBy = async (selector, value, want, notWant) => {
      await page.fill(selector, value);
      await until(page, ([w, n]) => w.every((id) => document.querySelector(`tr[data-request-id="${id}"]`)) &&
        n.every((id) => !document.querySelector(`tr[data-request-id="${id}"]`)), [want, notWant],
      `filter ${selector}=${value}`);
      await page.fill(selector, "");
    };
    await filterBy("#filter-action", "ListPluginStatus", [ids.good, ids.other, ids.missing], [ids.unknown]);
    await filterBy("#filter-code", "MissingRegionId", [ids.missing], [ids.good, ids.other, ids.unknown]);
    await filterBy("#filter-instance", OTHER_INSTANCE, [ids.other], [ids.good, ids.missing, ids.unknown]);
    await page.selectOption("#filter-outcome", "refused");
    await until(page, ([bad, ok]) => bad.every((id) => document.querySelector(`tr[data-request-id="${id}"]`)) &&
      ok.every((id) => !document.querySelector(`tr[data-request-id="${id}"]`)),
    [[ids.missing, ids.unknown], [ids.good, ids.other]], "outcome refused only");
    await page.selectOption("#filter-outcome", "");
    await until(page, (n) => document.querySelectorAll("#requests-body tr[data-request-id]").length >= n, 4, "all rows back");
    assert((await rowsNow()).size >= 4, "rows missing after clearing the filters");
  });

  // 3. Clock and a fault rule, through the page ----------------------------------------------
  await check("controls: freeze the clock", async () => {
    await openView(page, "controls");
    await page.click("#clock-freeze");
    await untilText(page, "#clock-mode", "frozen");
    const clock = await control("GET", "/clock");
    assert(clock.frozen === true, "the emulator's clock is not frozen: " + JSON.stringify(clock));
    // The page shows whole seconds, as the emulator writes every time.
    await untilText(page, "#clock-status", clock.now.replace(/\.\d+Z$/, "Z"));
  });

  let faultId = null;
  await check("controls: a fault rule added through the page fires, shows fired 1, is deleted", async () => {
    await page.fill("#fault-action", "ListPluginStatus");
    await page.fill("#fault-code", "Throttling.User");
    await page.click("#fault-add");
    await untilText(page, "#fault-result", "Added fault rule");
    await page.waitForSelector("#faults-body tr[data-fault-id]", { timeout: WAIT });
    faultId = await page.$eval("#faults-body tr[data-fault-id]", (r) => r.dataset.faultId);
    const call = { Action: "ListPluginStatus", RegionId: "cn-hangzhou", "InstanceId.1": RUN_INSTANCE };
    const refused = await apiCall(call);
    assert(refused.status === 400 && refused.body.Code === "Throttling.User", "the call got " + JSON.stringify(refused.body));
    await untilText(page, `#faults-body tr[data-fault-id="${faultId}"] .fired`, "1");
    widths.controls = await widthOf(page);
    await shot(page, "controls");
    await page.click(`#faults-body button[data-fault-id="${faultId}"]`);
    await until(page, (id) => !document.querySelector(`#faults-body tr[data-fault-id="${id}"]`), faultId, "the rule gone");
    const ok = await apiCall(call);
    assert(ok.status === 200, "after deleting the rule the call got " + ok.status);
    const left = await control("GET", "/faults");
    assert(left.faults.length === 0, "rules left: " + JSON.stringify(left));
  });

  // 4. A Cloud Assistant run on the emulator's (frozen) clock --------------------------------
  await check("invocations: a RunCommand reaches Success when the page moves the clock on", async () => {
    const run = await apiCall({ Action: "RunCommand", RegionId: "cn-hangzhou", Type: "RunShellScript",
      "InstanceId.1": RUN_INSTANCE, Name: "stop-tools",
      CommandContent: "acs-plugin-manager --exec --plugin ecs_tools_test --params --stop && acs-plugin-manager --version" });
    assert(run.status === 200, "RunCommand: " + JSON.stringify(run.body));
    const invokeId = run.body.InvokeId;
    ids.invoke = invokeId;
    // The clock is frozen: the run waits until the page moves it on (1 s to deliver, 1 s to run).
    await openView(page, "controls");
    await page.fill("#clock-advance-seconds", "3");
    await page.click("#clock-advance");
    await untilText(page, "#clock-result", "frozen");
    await openView(page, "invocations");
    const card = `[data-invoke-id="${invokeId}"]`;
    await shot(page, "invocations");
    await page.waitForSelector(card, { timeout: WAIT });
    await untilText(page, card + " h3", "Success");
    const runRow = `${card} tr.run-row[data-instance-id="${RUN_INSTANCE}"]`;
    await untilText(page, runRow, "Success");
    assert((await text(page, runRow + " .exit")).trim() === "0", "exit code: " + (await text(page, runRow + " .exit")));
    const output = await text(page, `${card} tr.output-row[data-instance-id="${RUN_INSTANCE}"] pre`);
    const version = (await control("GET", "/state")).instances.find((i) => i.instanceId === RUN_INSTANCE).cloudAssistant.version;
    assert(output.includes(version), `output "${output}" lacks the agent version ${version}`);
    widths.invocations = await widthOf(page);
    await shot(page, "invocations"); // again, with the run finished
  });

  await check("state: the run's plug-in change shows (ecs_tools_test Stopped)", async () => {
    await openView(page, "state");
    await shot(page, "state");
    await untilText(page, `tr[data-instance-id="${RUN_INSTANCE}"][data-plugin="ecs_tools_test"]`, "Stopped");
    const agent = await text(page, `tr.instance-row[data-instance-id="${RUN_INSTANCE}"]`);
    assert(agent.includes("online") && agent.includes("2.2.3.344"), "agent line: " + agent);
    const accounts = await text(page, "#accounts-body");
    assert(accounts.includes("***") && !accounts.includes("demo-secret"), "secrets shown or not hidden: " + accounts);
    const regions = await text(page, "#regions-body");
    assert(["cn-hangzhou", "cn-shanghai", "ap-southeast-1"].every((r) => regions.includes(r)), "regions: " + regions);
    widths.state = await widthOf(page);
    await shot(page, "state"); // again, with the change
  });

  // 5. Plug-in events through the page -------------------------------------------------------
  const eventRow = `tr[data-instance-id="${EVENT_INSTANCE}"][data-plugin="multi-nic-util"]`;
  await check("controls: a plug-in event (stop) changes the State view", async () => {
    await openView(page, "controls");
    await page.selectOption("#event-instance", `${ACCOUNT}/${EVENT_INSTANCE}`);
    await page.fill("#event-plugin", "multi-nic-util");
    await page.selectOption("#event-name", "stop");
    await page.click("#event-send");
    await untilText(page, "#event-result", "now Stopped");
    await openView(page, "state");
    await untilText(page, eventRow, "Stopped");
  });

  await check("controls: an impossible event shows the 409 refusal", async () => {
    await openView(page, "controls");
    expectedRefusals.push({ status: 409, url: `/plugins/multi-nic-util/stop` });
    await page.click("#event-send"); // stop again: it is Stopped
    await untilText(page, "#event-result", "409 InvalidTransition");
    const t = await text(page, "#event-result");
    assert(t.includes("cannot stop"), "message: " + t);
    assert(await page.$eval("#event-result", (n) => n.classList.contains("error")), "the refusal is not styled as an error");
  });

  await check("controls: an agent taken offline through the page shows in the State view", async () => {
    await openView(page, "controls");
    await page.selectOption("#agent-instance", `${ACCOUNT}/${OTHER_INSTANCE}`);
    await page.selectOption("#agent-online", "false");
    await page.click("#agent-set");
    await untilText(page, "#agent-result", "offline");
    const stored = await control("GET", "/state");
    const inst = stored.instances.find((i) => i.instanceId === OTHER_INSTANCE);
    assert(inst && inst.cloudAssistant.online === false, "the emulator's agent: " + JSON.stringify(inst && inst.cloudAssistant));
    await openView(page, "state");
    await untilText(page, `tr.instance-row[data-instance-id="${OTHER_INSTANCE}"]`, "agent offline");
  });

  // 7 and 8. Width and screenshots (before the reset empties the journal) ---------------------
  await openView(page, "requests");
  await shot(page, "requests");
  await check("layout: no view scrolls horizontally at 1280 px", async () => {
    for (const view of ["requests", "state", "invocations", "controls"]) {
      await openView(page, view);
      // The request with a 3000-character value, open in the detail panel: it must wrap.
      if (view === "requests") await page.click(`tr[data-request-id="${ids.other}"] td:first-child`);
      await page.waitForTimeout(300);
      widths[view] = Math.max(widths[view] || 0, await widthOf(page));
    }
    const wide = Object.entries(widths).filter(([, w]) => w > 1280);
    assert(wide.length === 0, "too wide: " + JSON.stringify(widths));
  });

  // 6. Reset through the page ----------------------------------------------------------------
  await check("controls: reset restores the demo data", async () => {
    await openView(page, "controls");
    await page.click("#reset-button");
    await untilText(page, "#reset-result", "Reset:");
    await untilText(page, "#clock-status", "real time");
    await openView(page, "state");
    await untilText(page, eventRow, "Running");
    await untilText(page, `tr[data-instance-id="${RUN_INSTANCE}"][data-plugin="ecs_tools_test"]`, "Running");
    await openView(page, "invocations");
    await until(page, () => !document.getElementById("invocations-empty").hidden, null, "no invocation left");
    await openView(page, "requests");
    await until(page, () => document.querySelectorAll("#requests-body tr").length === 0, null, "an empty journal");
  });

  // 9. A signing bug found by eye, on the emulator that checks signatures ----------------------
  await check("requests: a signature mismatch shows the server's string to sign", async () => {
    assert(STRICT, "STRICT_URL is not set (run.sh starts that emulator)");
    const strictPage = await newPage();
    await strictPage.goto(STRICT + "/_emulator/ui");
    // A V1 request with the demo key and a signature that cannot match.
    const q = new URLSearchParams({
      Action: "ListPluginStatus", Version: "2014-05-26", Format: "JSON", RegionId: "cn-hangzhou",
      Name: "ecs_tools_test", AccessKeyId: "LTAI5tDemoKey0001", SignatureMethod: "HMAC-SHA1",
      SignatureVersion: "1.0", SignatureNonce: "dashboard-" + Date.now(),
      Timestamp: new Date().toISOString().replace(/\.\d+Z$/, "Z"), Signature: "bm90IHRoZSBzaWduYXR1cmU=",
    });
    const answer = await (await fetch(`${STRICT}/?${q}`)).json();
    assert(answer.Code === "SignatureDoesNotMatch", "answered " + JSON.stringify(answer));
    const row = `tr[data-request-id="${answer.RequestId}"]`;
    await strictPage.waitForSelector(row, { timeout: WAIT });
    await strictPage.click(`${row} td:first-child`);
    await untilText(strictPage, "#detail-message", "server string to sign is:GET&%2F&");
    const shown = await strictPage.$eval("#detail-message", (n) => n.textContent);
    assert(shown === answer.Message, `the detail shows ${JSON.stringify(shown)}, the caller got ${JSON.stringify(answer.Message)}`);
    const signature = await strictPage.$eval(`${row}`, (r) => r.textContent);
    assert(!signature.includes("bm90IHRoZSBzaWduYXR1cmU="), "the signature is shown unredacted");
    await shot(strictPage, "signature-mismatch");
    await strictPage.close();
  });

  await check("screenshots: one per view", async () => {
    const want = ["requests", "request-detail", "state", "invocations", "controls", "signature-mismatch"];
    const missing = want.filter((n) => !fs.existsSync(path.join(SHOTS, n + ".png")));
    assert(missing.length === 0, "missing: " + missing.join(", "));
    console.log("screenshots in " + path.resolve(SHOTS));
  });

  // 1 (end). No console error during the whole run ------------------------------------------
  await check("console: no errors in the browser console", async () => {
    const unexpected = consoleErrors.filter((e) => {
      const m = /status of (\d+)/.exec(e.text);
      if (!m || !e.text.startsWith("Failed to load resource")) return true;
      const i = expectedRefusals.findIndex((x) => x.status === Number(m[1]) && e.url.includes(x.url));
      if (i < 0) return true;
      expectedRefusals.splice(i, 1);
      return false;
    });
    assert(unexpected.length === 0, unexpected.map((e) => `${e.text} (${e.url})`).join(" | "));
  });

  await browser.close();
}

main()
  .catch((e) => fail("driver", e && e.stack ? e.stack : e))
  .finally(() => {
    console.log(`${passes} passed, ${failures} failed`);
    process.exitCode = failures > 0 ? 1 : 0;
  });
