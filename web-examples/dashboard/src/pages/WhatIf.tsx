// What-if load planning on the Scheduling page: paste a deployment (JSON or YAML, as the command
// line's deploy reads it), say how many copies and the peak over mean to keep to, and see the
// coming hour's peaks before and after, the jitter window that meets the target, and the load
// with the what-if next to the stored one. Nothing is deployed (GetLoadDistribution.what_if).
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { DeployWorkflowRequestSchema, type DeployWorkflowRequest, type GetLoadDistributionResponse } from "@workflow-runtime/sdk";
import { useMemo, useState } from "preact/hooks";
import { Chart, type ChartSeries } from "../components/Chart";
import { ErrorBox, Stat } from "../components/ui";
import { useApp } from "../lib/app";
import { count, dur, ms } from "../lib/format";
import { useStored } from "../lib/hooks";

const windowS = 3600;
const resolutionS = 60;

const example = `definition:
  id: nightly-report
  nodes: [{id: a, type: noop}]
triggers:
  - id: hourly
    cron: {expression: "0 * * * *"}
`;

/** Reads a pasted deployment: JSON when it starts with "{", else YAML (loaded only then). */
export async function parseDeployment(text: string): Promise<DeployWorkflowRequest> {
  const trimmed = text.trim();
  if (trimmed === "") throw new Error("Paste a deployment: definition, triggers and config, as deploy reads them.");
  let doc: unknown;
  if (trimmed.startsWith("{")) {
    try {
      doc = JSON.parse(trimmed);
    } catch (err) {
      throw new Error(`Not valid JSON: ${err instanceof Error ? err.message : String(err)}`);
    }
  } else {
    const { parse } = await import("yaml");
    try {
      doc = parse(trimmed);
    } catch (err) {
      throw new Error(`Not valid YAML: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  if (doc === null || typeof doc !== "object" || Array.isArray(doc)) {
    throw new Error("A deployment is a mapping with definition, triggers and config.");
  }
  try {
    return fromJson(DeployWorkflowRequestSchema, doc as JsonValue);
  } catch (err) {
    throw new Error(`Not a deployment: ${err instanceof Error ? err.message : String(err)}`);
  }
}

export function WhatIfSection() {
  const { client } = useApp();
  const [text, setText] = useStored("wfr.what-if", example);
  const [copies, setCopies] = useState("1000");
  const [target, setTarget] = useState("5");
  const [busy, setBusy] = useState(false);
  const [parseError, setParseError] = useState<string>();
  const [error, setError] = useState<unknown>();
  const [res, setRes] = useState<GetLoadDistributionResponse>();

  const submit = async () => {
    setParseError(undefined);
    setError(undefined);
    let deployment: DeployWorkflowRequest;
    try {
      deployment = await parseDeployment(text);
    } catch (err) {
      setParseError(err instanceof Error ? err.message : String(err));
      return;
    }
    setBusy(true);
    try {
      setRes(
        await client.getLoadDistribution({
          window: { seconds: BigInt(windowS), nanos: 0 },
          resolution: { seconds: BigInt(resolutionS), nanos: 0 },
          whatIf: { deployment, copies: Number(copies) || 0, targetPeakOverMean: Number(target) || 0 },
        }),
      );
    } catch (err) {
      setError(err);
      setRes(undefined);
    } finally {
      setBusy(false);
    }
  };

  const chart = useMemo(() => {
    if (!res) return undefined;
    const x = res.buckets.map((b) => (ms(b.startTime) ?? 0) / 1000);
    const end = (x[x.length - 1] ?? 0) + resolutionS;
    const withWhatIf: (number | null)[] = res.buckets.map((b) => Number(b.firesWithWhatIf));
    const stored: (number | null)[] = res.buckets.map((b) => Number(b.fires));
    const series: ChartSeries[] = [
      { label: "With the what-if", values: [...withWhatIf, null], color: "--chart-1", style: "bars" },
      { label: "Stored", values: [...stored, stored[stored.length - 1] ?? null], color: "--chart-2", style: "step" },
    ];
    return { x: [...x, end], series, range: [x[0] ?? 0, end] as [number, number] };
  }, [res]);

  const w = res?.whatIf;
  const targetShown = Number(target) || 5;
  return (
    <section class="card" aria-labelledby="what-if-h" data-testid="what-if" style={{ marginBottom: "16px" }}>
      <div class="card-head">
        <h2 id="what-if-h">What if: plan a deployment</h2>
        <span class="small muted">the next hour, with and without it</span>
      </div>
      <form
        class="card-body"
        onSubmit={(e) => {
          e.preventDefault();
          void submit();
        }}
      >
        <label class="field" for="what-if-deployment">
          <span>
            Deployment, JSON or YAML (as <code>deploy -f</code> reads it); nothing is deployed
          </span>
          <textarea
            id="what-if-deployment"
            class="code"
            spellcheck={false}
            value={text}
            aria-invalid={parseError !== undefined}
            onInput={(e) => setText((e.target as HTMLTextAreaElement).value)}
          />
        </label>
        <div class="field-row" style={{ marginTop: "8px", alignItems: "end" }}>
          <label class="field">
            Copies (ids &lt;id&gt;-2, -3, …)
            <input name="copies" type="number" min={1} max={100000} value={copies} onInput={(e) => setCopies((e.target as HTMLInputElement).value)} />
          </label>
          <label class="field">
            Target peak / mean
            <input name="target" type="number" min={1} step="any" value={target} onInput={(e) => setTarget((e.target as HTMLInputElement).value)} />
          </label>
          <button type="submit" class="primary" disabled={busy}>
            {busy ? "Projecting…" : "Project the next hour"}
          </button>
        </div>
      </form>
      {parseError !== undefined && (
        <div class="card-body" role="alert" data-testid="what-if-parse-error">
          Not sent: {parseError}
        </div>
      )}
      {error !== undefined && <ErrorBox error={error} inline />}
      {w && chart && (
        <>
          <div class="stats card-body" data-testid="what-if-figures">
            <Stat label="Peak fires/s before" value={count(w.peakFiresPerSecondBefore)} hint="the stored triggers" />
            <Stat
              label="Peak fires/s after"
              value={count(w.peakFiresPerSecondAfter)}
              hint={`mean ${w.meanFiresPerSecondAfter.toFixed(2)}, peak/mean ${w.peakOverMeanAfter.toFixed(1)}`}
              tone={w.peakOverMeanAfter > targetShown ? "warn" : "ok"}
            />
            <Stat label="Without jitter" value={count(w.peakFiresPerSecondWithoutJitter)} hint="the what-if at a 0 s window" />
            <Stat
              label="Suggested jitter window"
              value={<span data-testid="what-if-suggested">{w.suggestedJitterWindow ? dur(w.suggestedJitterWindow) : "none"}</span>}
              hint={
                w.suggestedJitterWindow
                  ? `peak ${count(w.peakFiresPerSecondWithSuggestedWindow)} fires/s`
                  : `no window up to 1 day keeps peak/mean within ${targetShown}`
              }
            />
            <Stat label="What-if fires" value={count(w.whatIfFires)} hint="in the next hour" />
          </div>
          <div class="card-body">
            <Chart
              label="Projected fires per minute over the next hour, with the what-if and stored only"
              x={chart.x}
              series={chart.series}
              time
              xRange={chart.range}
              yLabel="fires per min"
              testId="what-if-chart"
            />
          </div>
        </>
      )}
    </section>
  );
}
