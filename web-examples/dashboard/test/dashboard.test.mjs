// The dashboard in a real browser against a real service: Debian's Chromium driven by
// playwright-core (no browser download), the workflow-runtime binary built from this repository
// (`serve --role=all`, SQLite in a temporary directory, WFR_UI=on, so the dashboard is the one
// embedded from internal/ui/dist at /ui/).
//
// Once over Connect and once over gRPC-Web: sign in through the settings panel, deploy through the
// API, see the deployment listed, open it, pause and resume it, trigger it with JSON (an invalid
// document is refused in words before anything is sent; a bad idempotency key comes back as a
// field violation), watch the execution reach SUCCEEDED without reloading, open it, and see the
// jitter chart drawn from the deployed triggers. Schedule health lists a per-second trigger and
// a paused one, with the API's counts and a working state filter. Screenshots of every page (light, dark, and at
// 390x844) go to test-results/. A last test seeds 1,000 deployments and 100,000 executions and
// reports (does not assert) the time to first data.
//
// Run with `npm test` after `npm run build` (the binary embeds the build). Needs Go and
// /usr/bin/chromium (or CHROMIUM_PATH).
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const dashDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(dashDir, "../..");
const resultsDir = join(dashDir, "test-results");
const chromiumPath = process.env.CHROMIUM_PATH || "/usr/bin/chromium";
const token = "dashboard-test-admin-token-0001";
const readyTimeoutMs = 120_000; // generous: CI machines are shared
const uiTimeoutMs = 60_000; // the longest any page element is waited for

let work; // temporary directory of everything below
let binary;
let browser;
const services = [];

function run(cmd, args, cwd, env = process.env) {
  return execFileSync(cmd, args, { cwd, env, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "wfr-dashboard-"));
  rmSync(resultsDir, { recursive: true, force: true });
  mkdirSync(resultsDir, { recursive: true });
  binary = join(work, "workflow-runtime");
  run("go", ["build", "-o", binary, "./cmd/workflow-runtime"], repoRoot);
  browser = await chromium.launch({
    executablePath: chromiumPath,
    // The flags this machine's Chromium needs: no sandbox as root, no GPU, and no calls home
    // (the network is closed; without these it keeps trying).
    args: [
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
});

after(async () => {
  await browser?.close();
  for (const s of services) await s.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// startService runs the binary with the dashboard on, until the test process ends.
async function startService(name, extraEnv = {}) {
  const home = join(work, name);
  mkdirSync(home);
  writeFileSync(join(home, "tokens"), `dashboard admin ${token}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("WFR_")));
  const dbURL = `sqlite://${join(home, "wfr.db")}`;
  const proc = spawn(binary, ["serve", "--role=all"], {
    cwd: home,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...env,
      WFR_ADDR: "127.0.0.1:0",
      WFR_DATABASE_URL: dbURL,
      WFR_UI: "on",
      WFR_SHUTDOWN_GRACE: "5s",
      WFR_LOG_FORMAT: "json",
      ...extraEnv,
    },
  });
  let log = "";
  proc.stderr.on("data", (b) => (log += b));
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  const killOnExit = () => proc.kill("SIGKILL");
  process.on("exit", killOnExit);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workflow-runtime not ready after ${readyTimeoutMs} ms\n${log}`)), readyTimeoutMs);
    let buffered = "";
    proc.stdout.on("data", (b) => {
      buffered += b;
      let i;
      while ((i = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
        log += `${line}\n`;
        try {
          const entry = JSON.parse(line);
          if (entry.msg === "workflow-runtime ready") {
            clearTimeout(timer);
            resolve(`http://${entry.addr}`);
          }
        } catch {
          // not a log line of ours
        }
      }
    });
    exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`workflow-runtime exited (${code}) before it was ready\n${log}`));
    });
  });
  const service = {
    url,
    dbURL,
    async stop() {
      process.off("exit", killOnExit);
      proc.kill("SIGTERM");
      const force = setTimeout(() => proc.kill("SIGKILL"), 30_000);
      await exited;
      clearTimeout(force);
    },
  };
  services.push(service);
  return service;
}

// rpc calls a method of WorkflowRuntimeService over Connect with JSON, as curl would.
async function rpc(service, method, body, auth = token) {
  const res = await fetch(`${service.url}/workflowruntime.v1.WorkflowRuntimeService/${method}`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...(auth ? { Authorization: `Bearer ${auth}` } : {}) },
    body: JSON.stringify(body),
  });
  const text = await res.text();
  if (!res.ok) throw new Error(`${method}: ${res.status} ${text}`);
  return JSON.parse(text);
}

// openPage opens a fresh browser context (its own localStorage) and collects what would show
// in the console as an error.
async function openPage(viewport = { width: 1280, height: 800 }, colorScheme = "light") {
  const context = await browser.newContext({ viewport, colorScheme });
  const page = await context.newPage();
  page.setDefaultTimeout(uiTimeoutMs);
  const errors = [];
  page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
  page.on("pageerror", (e) => errors.push(`uncaught: ${e.message}`));
  return {
    page,
    context,
    /** Fails on any console error but those matching allowed (which an intended failure causes). */
    checkConsole(step, allowed = []) {
      const bad = errors.filter((e) => !allowed.some((re) => re.test(e)));
      errors.length = 0;
      assert.deepEqual(bad, [], `console errors during ${step}`);
    },
  };
}

async function shot(page, name) {
  await page.screenshot({ path: join(resultsDir, `${name}.png`), fullPage: true });
}

// The HTTP status a browser logs for a Connect error (gRPC-Web answers 200 with the status in a
// header, so nothing is logged there).
const failedResource = (status) => new RegExp(`Failed to load resource: the server responded with a status of ${status}`);

function definitionFor(workflowId, transport) {
  return {
    definition: {
      id: workflowId,
      name: `Greeter over ${transport}`,
      description: "Waits a little, greets whoever the input names.",
      nodes: [
        { id: "start", type: "noop" },
        { id: "wait", type: "delay", dependsOn: ["start"], params: { duration: "2s" } },
        { id: "check", type: "noop", dependsOn: ["start"], params: { value: "checked" } },
        { id: "greet", type: "transform", dependsOn: ["wait", "check"], params: { expression: "{'greeting': 'hello ' + input.name}" } },
      ],
    },
    triggers: [
      { id: "every-5m", cron: { expression: "*/5 * * * *", timezone: "Europe/Berlin", jitterWindowSeconds: 120 } },
      { id: "hook", webhook: { path: `dash/${transport}` } },
    ],
    config: { executionTimeout: "60s" },
  };
}

let service; // the service of the two transport runs
let otherOrigin; // a second service whose /ui/ is the dashboard on another origin than service's
async function mainService() {
  if (!service) {
    otherOrigin = await startService("origin");
    service = await startService("main", { WFR_AUTH_TOKENS_FILE: "tokens", WFR_CORS_ALLOWED_ORIGINS: otherOrigin.url });
  }
  return service;
}

// Over Connect the dashboard is the one the service serves (same origin); over gRPC-Web it is
// served by another service, so every call crosses origins (CORS: the preflight with the token,
// and the exposed Grpc-* headers).
for (const transport of ["connect", "grpc-web"]) {
  test(`the dashboard over ${transport}`, async () => {
    const svc = await mainService();
    const { page, context, checkConsole } = await openPage();
    const prefix = transport === "connect" ? "" : "grpcweb-";
    const workflowId = `greeter-${transport}`;
    const pageOrigin = transport === "connect" ? svc.url : otherOrigin.url;
    try {
      // Settings: the service's URL and the transport, kept in localStorage. Without a token the
      // page says in words that it is signed out, and where to sign in.
      await page.goto(`${pageOrigin}/ui/`);
      await page.getByRole("button", { name: "Settings" }).click();
      let settings = page.getByRole("dialog", { name: "Settings" });
      await settings.locator('input[name="baseUrl"]').fill(svc.url);
      await settings.locator(`[data-transport="${transport}"]`).click();
      await settings.getByRole("button", { name: "Save" }).click();
      await page.getByTestId("connection").filter({ hasText: transport === "connect" ? "Connect" : "gRPC-Web" }).waitFor();
      await page.getByRole("alert").filter({ hasText: "Not signed in" }).waitFor();
      checkConsole("the signed-out load", [failedResource(401)]);

      // Then the token.
      await page.keyboard.press(",");
      settings = page.getByRole("dialog", { name: "Settings" });
      await settings.locator('input[name="token"]').fill(token);
      await settings.getByRole("button", { name: "Save" }).click();
      await page.getByRole("alert").filter({ hasText: "Not signed in" }).waitFor({ state: "hidden" });
      // Until the token was saved, the signed-out page kept asking (its refreshes, the watch's
      // retries), each answered 401 and logged by the browser, at times of their own: one
      // logged after the check above is the signed-out page's too. Saving the token aborts what
      // is in flight, and the alert is gone once a call with the token has answered.
      checkConsole("the sign-in", [failedResource(401)]);

      // Deploy through the API; the list shows it (r refreshes at once).
      await rpc(svc, "DeployWorkflow", definitionFor(workflowId, transport));
      await page.keyboard.press("r");
      const row = page.locator(`tr[data-workflow="${workflowId}"]`);
      await row.waitFor();
      await row.getByText("Deployed").waitFor();
      await row.getByText("*/5 * * * *").waitFor();
      await row.locator("time").first().waitFor(); // the next fire, from the trigger previews
      if (!prefix) await shot(page, "01-deployments");
      checkConsole("the deployments list");

      // The keyboard: ? lists the shortcuts, Escape closes, / focuses the filter.
      await page.keyboard.press("?");
      await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor();
      if (!prefix) await shot(page, "01-shortcuts");
      await page.keyboard.press("Escape");
      await page.getByRole("dialog", { name: "Keyboard shortcuts" }).waitFor({ state: "hidden" });
      await page.keyboard.press("/");
      await page
        .waitForFunction(() => document.activeElement?.hasAttribute("data-search"), null, { timeout: 10_000 })
        .catch(async (err) => {
          const focused = await page.evaluate(() => document.activeElement?.outerHTML.slice(0, 120));
          throw new Error(`/ did not focus the filter; focus is on ${focused}: ${err.message}`);
        });
      await page.keyboard.press("Escape");
      await page.locator("main").click({ position: { x: 5, y: 5 } }); // leave the filter

      // The detail page: graph, previews, fire ledger.
      await row.getByRole("link", { name: workflowId }).click();
      await page.getByRole("heading", { level: 1, name: workflowId }).waitFor();
      const dag = page.getByTestId("dag");
      await dag.waitFor();
      assert.equal(await dag.locator("g.node").count(), 4);
      assert.equal(await dag.locator("path.edge").count(), 4);
      await page.locator('[data-trigger="every-5m"] tbody tr').first().waitFor(); // coming fires
      assert.equal(await page.locator('[data-trigger="every-5m"] tbody tr').count(), 5);

      // Pause, then resume, each asked first.
      await page.getByRole("button", { name: `Pause ${workflowId}` }).click();
      await page.getByRole("dialog", { name: `Pause ${workflowId}?` }).getByRole("button", { name: "Pause" }).click();
      await page.locator("h1 .badge", { hasText: "Paused" }).waitFor();
      const paused = await rpc(svc, "GetDeploymentStatus", { workflowId });
      assert.equal(paused.deployment.status, "DEPLOYMENT_STATUS_PAUSED");
      if (!prefix) await shot(page, "02-deployment-paused");
      await page.getByRole("button", { name: `Resume ${workflowId}` }).click();
      await page.getByRole("dialog", { name: `Resume ${workflowId}?` }).getByRole("button", { name: "Resume" }).click();
      await page.locator("h1 .badge", { hasText: "Deployed" }).waitFor();
      assert.equal((await rpc(svc, "GetDeploymentStatus", { workflowId })).deployment.status, "DEPLOYMENT_STATUS_DEPLOYED");
      checkConsole("pause and resume");

      // Trigger with JSON that does not parse: refused in words, nothing sent.
      await page.getByRole("button", { name: `Trigger ${workflowId}` }).click();
      const dialog = page.getByRole("dialog", { name: `Trigger ${workflowId}` });
      const editor = dialog.locator("#trigger-input");
      await editor.fill('{"name": "ada",}');
      await dialog.getByRole("button", { name: "Trigger", exact: true }).click();
      await dialog.getByRole("alert").filter({ hasText: "Not sent: the input is not valid JSON" }).waitFor();
      if (!prefix) await shot(page, "03-trigger-invalid-json");
      const none = await rpc(svc, "GetExecutionHistory", { workflowId });
      assert.equal((none.executions ?? []).length, 0, "an invalid document must not be sent");

      // A key the API refuses: the field violation is shown, field and rule named.
      await editor.fill('{"name": "ada"}');
      await dialog.getByLabel(/Idempotency key/).fill("has spaces");
      await dialog.getByRole("button", { name: "Trigger", exact: true }).click();
      const refusal = dialog.getByRole("alert").filter({ hasText: "The request was refused as invalid" });
      await refusal.waitFor();
      await refusal.locator("table.violations").getByText("idempotency_key", { exact: true }).waitFor();
      if (!prefix) await shot(page, "04-trigger-field-violation");
      checkConsole("the refused triggers", [failedResource(400)]);

      // A good one; the toast links the new execution.
      await dialog.getByLabel(/Idempotency key/).fill("");
      await dialog.getByRole("button", { name: "Trigger", exact: true }).click();
      const open = page.locator(".toast a", { hasText: "Open" });
      await open.waitFor();
      const executionId = (await open.getAttribute("href")).split("/").pop();

      // The executions of this deployment: the new one turns SUCCEEDED without a reload.
      await page.evaluate(() => {
        window.__sameDocument = true;
      });
      await page.locator(".page-head").getByRole("link", { name: "Executions", exact: true }).click();
      const exRow = page.locator(`tr[data-execution="${executionId}"]`);
      await exRow.waitFor();
      const firstSeen = await exRow.getAttribute("data-status");
      await page.locator(`tr[data-execution="${executionId}"][data-status="SUCCEEDED"]`).waitFor();
      assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
      console.log(`# ${transport}: execution first listed as ${firstSeen}, then SUCCEEDED without a reload`);

      // The list follows the deployment's WatchExecutions stream: one triggered elsewhere appears
      // and finishes on it.
      await page.getByTestId("live").filter({ hasText: "streaming" }).waitFor();
      const other = await rpc(svc, "TriggerWorkflow", { workflowId, triggerData: '{"name": "grace"}' });
      await page.locator(`tr[data-execution="${other.execution.id}"][data-status="SUCCEEDED"]`).waitFor();
      assert.equal(await page.evaluate(() => window.__sameDocument), true, "the page was reloaded");
      if (!prefix) await shot(page, "05-executions");
      checkConsole("the executions list");

      // Its detail: input, output, timeline.
      await exRow.getByRole("link").first().click();
      await page.locator('[data-testid="execution-status"][data-status="SUCCEEDED"]').waitFor();
      assert.match(await page.getByTestId("execution-input").innerText(), /"name": "ada"/);
      assert.match(await page.getByTestId("execution-output").innerText(), /hello ada/);
      await page.getByTestId("timeline").waitFor();
      if (!prefix) await shot(page, "06-execution");

      // Scheduling: the jitter histogram counts the deployed cron triggers.
      await page.keyboard.press("g");
      await page.keyboard.press("s");
      const jitter = page.getByTestId("jitter-chart");
      await page.locator('[data-testid="jitter-chart"][data-drawn="true"]').waitFor();
      await jitter.locator("canvas").waitFor();
      const want = await rpc(svc, "GetJitterDistribution", {});
      assert.equal(Number(await jitter.getAttribute("data-total")), Number(want.triggerCount));
      assert.match(await page.getByTestId("jitter-figures").innerText(), new RegExp(`^${want.triggerCount} cron triggers?,`));
      await page.locator('[data-testid="load-chart"][data-drawn="true"]').waitFor();
      if (!prefix) await shot(page, "07-scheduling");

      // System: healthy, with its dependencies.
      await page.keyboard.press("g");
      await page.keyboard.press("y");
      await page.getByTestId("system-status").filter({ hasText: "healthy" }).waitFor();
      await page.getByTestId("dependencies").locator("tbody tr").first().waitFor();
      if (!prefix) await shot(page, "08-system");
      checkConsole("the detail, scheduling and system pages");

      // Delete, asked first: the deployment is archived, its history kept.
      if (transport === "grpc-web") {
        await page.keyboard.press("g");
        await page.keyboard.press("d");
        const listed = page.locator(`tr[data-workflow="${workflowId}"]`);
        await listed.getByRole("button", { name: `Delete ${workflowId}` }).click();
        await page.getByRole("dialog", { name: `Delete ${workflowId}?` }).getByRole("button", { name: "Delete deployment" }).click();
        await listed.getByText("Archived").waitFor();
        assert.equal((await rpc(svc, "GetDeploymentStatus", { workflowId })).deployment.status, "DEPLOYMENT_STATUS_ARCHIVED");
        checkConsole("the delete");
      }
    } catch (err) {
      await shot(page, `failure-${transport}`).catch(() => {});
      throw err;
    } finally {
      await context.close();
    }
  });
}

// What-if load planning on the Scheduling page: a pasted deployment is projected, not stored.
test("the what-if form plans 10,000 hourly workflows", async () => {
  const svc = await mainService();
  const { page, context, checkConsole } = await openPage();
  try {
    await context.addInitScript((t) => {
      localStorage.setItem("wfr.settings", JSON.stringify({ baseUrl: location.origin, transport: "connect", token: t }));
    }, token);
    await page.goto(`${svc.url}/ui/#/scheduling`);
    const form = page.getByTestId("what-if");
    const editor = form.locator("#what-if-deployment");
    const project = form.getByRole("button", { name: "Project the next hour" });

    // YAML that does not parse: said in words, nothing sent.
    await editor.fill("definition: {id: [");
    await project.click();
    await form.getByRole("alert").filter({ hasText: "Not sent: Not valid YAML" }).waitFor();

    // A cron the service refuses: the violation is named under what_if.deployment.
    await editor.fill('definition: {id: planned, nodes: [{id: a, type: noop}]}\ntriggers: [{id: h, cron: {expression: "not a cron"}}]\n');
    await project.click();
    const refusal = form.getByRole("alert").filter({ hasText: "The request was refused as invalid" });
    await refusal.waitFor();
    await refusal.locator("table.violations").getByText("what_if.deployment.triggers[0].cron.expression", { exact: true }).waitFor();
    checkConsole("the refused what-ifs", [failedResource(400)]);

    // 10,000 copies on the hour, target 5: all in one second without jitter, the suggested
    // window within 5 x the mean, the what-if series in the chart.
    await editor.fill('definition: {id: planned, nodes: [{id: a, type: noop}]}\ntriggers: [{id: hourly, cron: {expression: "0 * * * *"}}]\n');
    await form.locator('input[name="copies"]').fill("10000");
    await form.locator('input[name="target"]').fill("5");
    await project.click();
    const chart = form.locator('[data-testid="what-if-chart"][data-drawn="true"]');
    await chart.waitFor();
    assert.ok(Number(await chart.getAttribute("data-total")) >= 10_000, "the what-if's fires are in the chart");
    const figures = form.getByTestId("what-if-figures");
    assert.match(await figures.innerText(), /Without jitter\s+10,0\d\d/i);
    const suggested = await form.getByTestId("what-if-suggested").innerText();
    assert.notEqual(suggested, "none");
    assert.match(await figures.innerText(), /What-if fires\s+10,000/i);
    await shot(page, "09-what-if");
    const stored = await rpc(svc, "GetDeploymentStatus", { workflowId: "planned" }).catch((err) => err);
    assert.match(String(stored), /404/, "a what-if deploys nothing");

    // JSON, one copy, the default target: no window gets one fire an hour within twice the mean.
    await editor.fill(JSON.stringify({ definition: { id: "single", nodes: [{ id: "a", type: "noop" }] }, triggers: [{ id: "h", cron: { expression: "0 * * * *" } }] }));
    await form.locator('input[name="copies"]').fill("1");
    await form.locator('input[name="target"]').fill("");
    await project.click();
    await form.getByTestId("what-if-suggested").filter({ hasText: "none" }).waitFor();
    checkConsole("the what-if form");
  } catch (err) {
    await shot(page, "failure-what-if").catch(() => {});
    throw err;
  } finally {
    await context.close();
  }
});

// Schedule health on the Scheduling page: a per-second trigger and a paused one. The service
// runs a scheduler (role all), so the per-second trigger is ON_TIME when the machine keeps up;
// a loaded one may make a fire late (LATE) or let times pass the grace unfired (OVERDUE). What
// holds whatever the timing: it is one of those three, never PAUSED or SILENT; the paused one is
// PAUSED; the counts are the service's (the number of triggers and of paused ones do not move).
test("schedule health lists a per-second trigger and a paused one", async () => {
  const svc = await mainService();
  const { page, context, checkConsole } = await openPage();
  const live = "health-every-second";
  const held = "health-paused";
  const ids = [];
  const ranks = ["OVERDUE", "LATE", "SILENT", "PAUSED", "ON_TIME"];
  const running = ["ON_TIME", "LATE", "OVERDUE"];
  try {
    const noop = (id) => ({ id, nodes: [{ id: "a", type: "noop" }] });
    ids.push(
      (
        await rpc(svc, "DeployWorkflow", {
          definition: noop(live),
          triggers: [{ id: "tick", cron: { expression: "* * * * * *", jitterWindowSeconds: 0 } }],
        })
      ).deployment.id,
    );
    const pausedId = (await rpc(svc, "DeployWorkflow", { definition: noop(held), triggers: [{ id: "hourly", cron: { expression: "0 * * * *" } }] }))
      .deployment.id;
    ids.push(pausedId);
    await rpc(svc, "UpdateDeployment", { deploymentId: pausedId, status: "DEPLOYMENT_STATUS_PAUSED", updateMask: "status" });
    const want = await rpc(svc, "ListScheduleHealth", {});
    const wantTotal = (want.counts ?? []).reduce((a, c) => a + Number(c.count), 0);
    const wantPaused = Number((want.counts ?? []).find((c) => c.state === "SCHEDULE_HEALTH_STATE_PAUSED")?.count ?? 0);
    assert.ok(wantPaused >= 1, "the paused deployment's trigger is counted PAUSED");

    await context.addInitScript((t) => {
      localStorage.setItem("wfr.settings", JSON.stringify({ baseUrl: location.origin, transport: "connect", token: t }));
    }, token);
    await page.goto(`${svc.url}/ui/#/scheduling`);
    const table = page.getByTestId("schedule-health");
    const liveRow = table.locator(`tr[data-workflow="${live}"]`);
    const heldRow = table.locator(`tr[data-workflow="${held}"][data-state="PAUSED"]`);
    await liveRow.waitFor();
    await heldRow.waitFor();
    await heldRow.locator(".badge", { hasText: "Paused" }).waitFor();
    const liveState = await liveRow.getAttribute("data-state");
    assert.ok(running.includes(liveState), `the per-second trigger is ${liveState}`);
    console.log(`# schedule health: the per-second trigger is ${liveState}`);

    // The counts are the service's; the rows come unhealthy first, as the service orders them.
    const counts = page.getByTestId("schedule-health-counts");
    assert.equal(Number(await counts.getAttribute("data-total")), wantTotal);
    assert.equal(Number(await counts.locator('[data-state="PAUSED"]').getAttribute("data-count")), wantPaused);
    assert.match(await counts.locator('[data-state="PAUSED"]').innerText(), new RegExp(`^Paused ${wantPaused}$`));
    const shown = await table.locator("tbody tr").evaluateAll((rows) => rows.map((r) => r.dataset.state));
    assert.deepEqual(
      shown,
      [...shown].sort((a, b) => ranks.indexOf(a) - ranks.indexOf(b)),
      "unhealthy first",
    );
    await shot(page, "10-schedule-health");
    checkConsole("the schedule health list");

    // The state filter: only PAUSED, in the URL, then all again.
    const filter = page.getByRole("group", { name: "State" });
    await filter.getByRole("button", { name: "Paused" }).click();
    await liveRow.waitFor({ state: "detached" });
    await heldRow.waitFor();
    assert.equal(await table.locator('tbody tr:not([data-state="PAUSED"])').count(), 0, "only PAUSED rows");
    assert.equal(Number(await counts.getAttribute("data-total")), wantPaused);
    assert.match(page.url(), /[?&]health=PAUSED/);
    await filter.getByRole("button", { name: "All" }).click();
    await liveRow.waitFor();

    // The workflow links its deployment, whose trigger shows the same verdict.
    await liveRow.getByRole("link", { name: live }).click();
    await page.getByRole("heading", { level: 1, name: live }).waitFor();
    const verdict = page.locator('[data-trigger="tick"] [data-testid="trigger-health"]');
    await verdict.waitFor();
    assert.ok(running.includes(await verdict.getAttribute("data-state")));
    checkConsole("the state filter and the deployment's trigger health");
  } catch (err) {
    await shot(page, "failure-schedule-health").catch(() => {});
    throw err;
  } finally {
    await context.close();
    // The per-second trigger would fire through the tests that follow.
    for (const id of ids) await rpc(svc, "DeleteDeployment", { deploymentId: id }).catch(() => {});
  }
});

test("every page in light and dark, and at 390x844", async () => {
  const svc = await mainService();
  const deployments = (await rpc(svc, "ListDeployments", {})).deployments ?? [];
  assert.ok(deployments.length > 0, "runs after the transport tests");
  const d = deployments[0];
  const [execution] = (await rpc(svc, "GetExecutionHistory", { workflowId: d.workflowId, pageSize: 1 })).executions ?? [];
  const pages = [
    ["deployments", "#/deployments", `tr[data-workflow="${d.workflowId}"]`],
    ["deployment", `#/deployments/${d.id}`, '[data-testid="dag"]'],
    ["executions", `#/executions?workflow=${d.workflowId}`, "tr[data-execution]"],
    ["execution", `#/executions/${execution?.id}`, '[data-testid="timeline"]'],
    ["scheduling", "#/scheduling", '[data-testid="jitter-chart"][data-drawn="true"]'],
    ["system", "#/system", '[data-testid="dependencies"]'],
  ];
  for (const [label, viewport, scheme] of [
    ["light", { width: 1280, height: 800 }, "light"],
    ["dark", { width: 1280, height: 800 }, "dark"],
    ["mobile", { width: 390, height: 844 }, "light"],
  ]) {
    const { page, context, checkConsole } = await openPage(viewport, scheme);
    try {
      await context.addInitScript((t) => {
        localStorage.setItem("wfr.settings", JSON.stringify({ baseUrl: location.origin, transport: "connect", token: t }));
      }, token);
      for (const [name, hash, ready] of pages) {
        await page.goto(`${svc.url}/ui/${hash}`);
        await page.locator(ready).first().waitFor();
        // Nothing wider than the screen but what scrolls inside its own box (tables, graphs).
        await shot(page, `${label}-${name}`);
        if (label === "light" && name === "deployment") {
          await page.screenshot({ path: join(resultsDir, "readme.png") }); // the README's, one screen
        }
        const overflow = await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth);
        assert.ok(overflow <= 1, `${label} ${name}: the page is ${overflow}px wider than the screen`);
      }
      checkConsole(`the ${label} pages`);
    } finally {
      await context.close();
    }
  }
});

test("time to first data with 1,000 deployments and 100,000 executions (measured, not asserted)", async () => {
  const svc = await startService("seeded");
  const t0 = Date.now();
  // 1,000 deployments through the API, 8 at a time; daily cron triggers spread over all 24 hours
  // (41 or 42 fire in any hour, so the coming-load chart has fires whatever the time of day the
  // test runs), every fifth with a webhook.
  const total = 1000;
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < total) {
        const i = next++;
        const id = `seeded-${String(i).padStart(4, "0")}`;
        await rpc(
          svc,
          "DeployWorkflow",
          {
            definition: { id, nodes: [{ id: "a", type: "noop" }, { id: "b", type: "noop", dependsOn: ["a"] }] },
            triggers: [
              { id: "daily", cron: { expression: `${Math.floor(i / 24) % 60} ${i % 24} * * *`, timezone: "UTC" } },
              ...(i % 5 === 0 ? [{ id: "hook", webhook: { path: `seeded/${i}` } }] : []),
            ],
          },
          null,
        );
      }
    }),
  );
  const deployed = Date.now();
  run("go", ["run", "./web-examples/dashboard/test/seed", "-db", svc.dbURL, "-executions", "100000"], repoRoot);
  const seeded = Date.now();
  console.log(`# seeding: 1,000 deployments in ${((deployed - t0) / 1000).toFixed(1)} s, 100,000 executions in ${((seeded - deployed) / 1000).toFixed(1)} s`);

  const results = {};
  for (const [label, viewport] of [
    ["1280x800", { width: 1280, height: 800 }],
    ["390x844", { width: 390, height: 844 }],
  ]) {
    const { page, context, checkConsole } = await openPage(viewport);
    try {
      for (const [name, hash, mark, ready] of [
        ["deployments", "#/deployments", "wfr:first-data:deployments", "tr[data-workflow]"],
        ["executions", "#/executions", "wfr:first-data:executions", "tr[data-execution]"],
      ]) {
        await page.goto("about:blank");
        const started = Date.now();
        await page.goto(`${svc.url}/ui/${hash}`);
        await page.locator(ready).first().waitFor();
        const wall = Date.now() - started;
        const fromNavigation = await page.evaluate(
          (m) => performance.getEntriesByName(m)[0]?.startTime ?? null,
          mark,
        );
        const rows = await page.locator(ready).count();
        results[`${label} ${name}`] = { firstDataMs: fromNavigation && Math.round(fromNavigation), wallMs: wall, rows };
        await shot(page, `seeded-${label}-${name}`);
        // The next page, by its page token (] is the shortcut).
        const first = await page.locator(ready).first().getAttribute(name === "executions" ? "data-execution" : "data-workflow");
        await page.keyboard.press("]");
        await page.getByText("Page 2").waitFor();
        await page.waitForFunction(
          ([sel, attr, was]) => document.querySelector(sel)?.getAttribute(attr) !== was,
          [ready, name === "executions" ? "data-execution" : "data-workflow", first],
        );
      }
      if (label === "1280x800") {
        await page.goto(`${svc.url}/ui/#/scheduling`);
        await page.locator('[data-testid="jitter-chart"][data-drawn="true"]').waitFor();
        await page.locator('[data-testid="load-chart"][data-drawn="true"]').waitFor();
        await shot(page, "seeded-scheduling");
      }
      checkConsole(`the seeded pages at ${label}`);
    } finally {
      await context.close();
    }
  }
  for (const [k, v] of Object.entries(results)) {
    console.log(`# time to first data, ${k}: ${v.firstDataMs} ms after navigation (${v.wallMs} ms to rows on screen, ${v.rows} rows)`);
  }
  writeFileSync(join(resultsDir, "first-data.json"), `${JSON.stringify(results, null, 2)}\n`);
});
