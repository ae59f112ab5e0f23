// The package as its users get it: `npm pack`s sdk/ts, installs the tarball into an empty
// project (its dependencies from the npm registry), type-checks test/consumer/consumer.ts there
// with tsc, and calls the service (built from this repository, one --role=all process on SQLite
// on a free loopback port) through the installed package, over both transports.
//
// Run with `npm test` in sdk/ts. Needs npm (registry access for the install) and Go.
import assert from "node:assert/strict";
import { execFileSync, spawn } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { after, before, test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

const sdkDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const repoRoot = resolve(sdkDir, "../..");
const token = "sdk-ts-test-admin-token-0001";
const readyTimeoutMs = 120_000; // generous: CI machines are shared

let work; // temporary directory of everything below
let project; // the consumer project, with the tarball installed
let service; // { url, stop }

function run(cmd, args, cwd) {
  return execFileSync(cmd, args, { cwd, encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] });
}

before(async () => {
  work = mkdtempSync(join(tmpdir(), "wfr-sdk-ts-"));

  // The tarball, built as `npm publish` would (prepack runs the build; done first here so that
  // its output does not mix with pack's JSON).
  run("npm", ["run", "build", "--silent"], sdkDir);
  const [{ filename }] = JSON.parse(run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], sdkDir));

  project = join(work, "consumer");
  mkdirSync(project);
  writeFileSync(join(project, "package.json"), JSON.stringify({ name: "consumer", private: true, type: "module" }));
  const typescript = JSON.parse(readFileSync(join(sdkDir, "package.json"), "utf8")).devDependencies.typescript;
  run("npm", ["install", "--no-audit", "--no-fund", "--loglevel=error", join(work, filename), `typescript@${typescript}`], project);
  for (const f of ["consumer.ts", "tsconfig.json"]) copyFileSync(join(sdkDir, "test", "consumer", f), join(project, f));

  service = await startService();
});

after(async () => {
  await service?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

// startService builds workflow-runtime and runs it until the test ends.
async function startService() {
  const binary = join(work, "workflow-runtime");
  run("go", ["build", "-o", binary, "./cmd/workflow-runtime"], repoRoot);
  const home = join(work, "service");
  mkdirSync(home);
  writeFileSync(join(home, "tokens"), `sdk-ts admin ${token}\n`);
  const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("WFR_")));
  const proc = spawn(binary, ["serve"], {
    cwd: home,
    stdio: ["ignore", "pipe", "pipe"],
    env: {
      ...env,
      WFR_ROLE: "all",
      WFR_ADDR: "127.0.0.1:0",
      WFR_DATABASE_URL: `sqlite://${join(home, "wfr.db")}`,
      WFR_AUTH_TOKENS_FILE: join(home, "tokens"),
      WFR_SHUTDOWN_GRACE: "5s",
      WFR_LOG_FORMAT: "json",
    },
  });
  let log = "";
  proc.stderr.on("data", (b) => (log += b));
  const exited = new Promise((resolve) => proc.on("exit", resolve));
  // Should this process end without the after hook (a crash, process.exit), the service goes too.
  const killOnExit = () => proc.kill("SIGKILL");
  process.on("exit", killOnExit);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`workflow-runtime not ready after ${readyTimeoutMs} ms\n${log}`)), readyTimeoutMs);
    let buffered = "";
    proc.stdout.on("data", (b) => {
      log += b;
      buffered += b;
      let i;
      while ((i = buffered.indexOf("\n")) >= 0) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 1);
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
  return {
    url,
    async stop() {
      process.off("exit", killOnExit);
      proc.kill("SIGTERM");
      await exited;
    },
  };
}

// The installed package, loaded from the consumer project (so its dependencies resolve there).
async function installed() {
  return import(pathToFileURL(join(project, "node_modules", "@workflow-runtime", "sdk", "dist", "index.js")).href);
}

test("the packed SDK type-checks in a project of its own", () => {
  run(join(project, "node_modules", ".bin", "tsc"), ["-p", "."], project);
});

test("the packed SDK holds what its package.json points at", () => {
  const pkg = JSON.parse(readFileSync(join(project, "node_modules", "@workflow-runtime", "sdk", "package.json"), "utf8"));
  for (const f of [pkg.main, pkg.types, pkg.exports["."].types, pkg.exports["."].default]) {
    readFileSync(join(project, "node_modules", "@workflow-runtime", "sdk", f)); // throws when missing
  }
});

for (const transport of ["connect", "grpc-web"]) {
  test(`the packed SDK calls the service over ${transport} from Node.js`, async () => {
    const sdk = await installed();
    const client = sdk.createRuntimeClient(service.url, { transport, token });
    const workflowId = `ts-${transport}`;

    // Validation errors: the proto's rules and the service's own checks, field and rule named.
    const refusals = [
      [{ id: "Not Valid", nodes: [{ id: "a", type: "noop" }] }, { field: "definition.id", rule: "string.pattern" }],
      [
        {
          id: `${workflowId}-cycle`,
          nodes: [
            { id: "a", type: "noop", dependsOn: ["b"] },
            { id: "b", type: "noop", dependsOn: ["a"] },
          ],
        },
        { field: "definition.nodes", rule: "nodes.acyclic" },
      ],
    ];
    for (const [definition, want] of refusals) {
      const err = await client.deployWorkflow({ definition }).then(
        () => assert.fail("deployed an invalid definition"),
        (e) => e,
      );
      assert.ok(err instanceof sdk.ConnectError);
      assert.equal(err.code, sdk.Code.InvalidArgument);
      const violations = sdk.fieldViolations(err);
      assert.equal(violations.length, 1);
      assert.equal(violations[0].field, want.field);
      assert.equal(violations[0].rule, want.rule);
      assert.ok(violations[0].message.length > 0);
      assert.equal(err.findDetails(sdk.ViolationsSchema).length, 1);
    }

    // A deploy, a keyed trigger twice, a read.
    const { deployment } = await client.deployWorkflow({
      definition: { id: workflowId, nodes: [{ id: "a", type: "noop" }] },
    });
    assert.equal(deployment.status, sdk.DeploymentStatus.DEPLOYED);
    const first = await client.triggerWorkflow({ target: { case: "workflowId", value: workflowId }, idempotencyKey: "k1" });
    const again = await client.triggerWorkflow({ target: { case: "workflowId", value: workflowId }, idempotencyKey: "k1" });
    assert.equal(again.deduplicated, true);
    assert.equal(again.execution.id, first.execution.id);
    const { execution } = await client.getExecution({ executionId: first.execution.id });
    assert.equal(execution.workflowId, workflowId);

    // No token: unauthenticated; anything else has no violations.
    const anonymous = sdk.createRuntimeClient(service.url, { transport });
    const denied = await anonymous.getExecution({ executionId: first.execution.id }).then(
      () => assert.fail("read without a token"),
      (e) => e,
    );
    assert.equal(denied.code, sdk.Code.Unauthenticated);
    assert.deepEqual(sdk.fieldViolations(denied), []);
  });
}

test("fieldViolations renders every kind of path element", async () => {
  const sdk = await installed();
  const err = new sdk.ConnectError("validation error", sdk.Code.InvalidArgument, undefined, [
    {
      desc: sdk.ViolationsSchema,
      value: {
        violations: [
          {
            field: {
              elements: [
                { fieldName: "labels", subscript: { case: "stringKey", value: "team" } },
                { fieldName: "nodes", subscript: { case: "index", value: 2n } },
                { fieldName: "flags", subscript: { case: "boolKey", value: true } },
                { fieldName: "by_int", subscript: { case: "intKey", value: -3n } },
                { fieldName: "by_uint", subscript: { case: "uintKey", value: 7n } },
                { fieldName: "type" },
              ],
            },
            ruleId: "string.pattern",
            message: "does not match",
          },
          { ruleId: "time_range.ordered", message: "end_time must be after start_time" },
        ],
      },
    },
  ]);
  assert.deepEqual(sdk.fieldViolations(err), [
    { field: 'labels["team"].nodes[2].flags[true].by_int[-3].by_uint[7].type', rule: "string.pattern", message: "does not match" },
    { field: "", rule: "time_range.ordered", message: "end_time must be after start_time" },
  ]);
  assert.deepEqual(sdk.fieldViolations(new Error("plain")), []);
});
