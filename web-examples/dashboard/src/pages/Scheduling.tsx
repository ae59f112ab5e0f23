// Scheduling: how the deployed cron triggers' jitter offsets spread over their windows, the load
// to come with and without jitter, how punctual the scheduler has been, and whether each cron
// trigger fires on time (schedule health).
import { useMemo, useState } from "preact/hooks";
import { Chart, type ChartSeries } from "../components/Chart";
import { Empty, ErrorBox, Loading, Segmented, Stat } from "../components/ui";
import { useApp } from "../lib/app";
import { count, dur, fromMs, ms } from "../lib/format";
import { useQuery } from "../lib/hooks";
import type { Location } from "../lib/router";
import { ScheduleHealthSection } from "./ScheduleHealth";
import { WhatIfSection } from "./WhatIf";

const metricRanges = [
  { value: "1h", label: "1 h", ms: 3_600_000 },
  { value: "24h", label: "24 h", ms: 86_400_000 },
  { value: "7d", label: "7 d", ms: 7 * 86_400_000 },
];

const loadWindows = [
  { value: "1h", label: "next 1 h", windowS: 3600, resolutionS: 60 },
  { value: "6h", label: "6 h", windowS: 6 * 3600, resolutionS: 300 },
  { value: "24h", label: "24 h", windowS: 86_400, resolutionS: 900 },
];

export function SchedulingPage({ loc }: { loc: Location }) {
  return (
    <>
      <div class="page-head">
        <div>
          <h1>Scheduling</h1>
          <div class="sub">Jitter spreads cron fires over a window, so a thousand “0 * * * *” do not all start at once.</div>
        </div>
      </div>
      <MetricsSection />
      <ScheduleHealthSection loc={loc} />
      <div class="grid grid-2">
        <JitterSection />
        <LoadSection />
      </div>
      <WhatIfSection />
      <OffsetsSection />
    </>
  );
}

function MetricsSection() {
  const { client } = useApp();
  const [range, setRange] = useState("1h");
  const q = useQuery(
    (signal) => {
      const end = Date.now();
      const r = metricRanges.find((x) => x.value === range) ?? metricRanges[0];
      return client.getSchedulingMetrics({ startTime: fromMs(end - r.ms), endTime: fromMs(end) }, { signal });
    },
    ["sched-metrics", range],
    { refreshMs: 15_000 },
  );
  const m = q.data;
  return (
    <section aria-labelledby="metrics-h">
      <div class="page-head" style={{ marginBottom: "8px", alignItems: "end" }}>
        <h2 id="metrics-h" style={{ margin: 0, fontSize: "15px" }}>
          Scheduler, last {range}
        </h2>
        <Segmented
          label="Range"
          options={metricRanges.map((r) => ({ value: r.value, label: r.label }))}
          selected={[range]}
          onChange={(v) => setRange(v[0] ?? "1h")}
          required
        />
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} />}
      <div class="stats" data-testid="scheduling-metrics">
        <Stat label="Cron triggers" value={m ? count(m.scheduledTriggers) : "…"} hint="of deployed deployments" />
        <Stat label="Fires / min" value={m ? m.firesPerMinute.toFixed(2) : "…"} />
        <Stat label="Lateness p50" value={m ? dur(m.latenessP50) : "…"} hint="fire time − jittered time" />
        <Stat label="p95" value={m ? dur(m.latenessP95) : "…"} />
        <Stat label="p99" value={m ? dur(m.latenessP99) : "…"} tone={m && (ms(m.latenessP99) ?? 0) > 60_000 ? "warn" : undefined} />
        <Stat label="Fired" value={m ? count(m.fired) : "…"} tone="ok" />
        <Stat label="Deduplicated" value={m ? count(m.deduplicated) : "…"} hint="made by another replica" />
        <Stat label="Caught up" value={m ? count(m.caughtUp) : "…"} tone={m && m.caughtUp > 0n ? "warn" : undefined} hint="fired late after downtime" />
        <Stat label="Missed" value={m ? count(m.missed) : "…"} tone={m && m.missed > 0n ? "err" : undefined} hint="misfires, outside catch-up" />
        <Stat label="Skipped" value={m ? count(m.skipped) : "…"} hint="by the overlap policy" />
      </div>
    </section>
  );
}

function JitterSection() {
  const { client } = useApp();
  const [buckets, setBuckets] = useState(30);
  const q = useQuery((signal) => client.getJitterDistribution({ bucketCount: buckets }, { signal }), ["jitter", buckets], {
    refreshMs: 30_000,
  });
  const d = q.data;
  const chart = useMemo(() => {
    if (!d) return undefined;
    // Bars centred on their buckets, the axis from the window's start to its end.
    const x = d.buckets.map((b) => (b.startSeconds + b.endSeconds) / 2);
    const series: ChartSeries[] = [
      { label: "Triggers", values: d.buckets.map((b) => Number(b.count)), color: "--chart-1", style: "bars", format: (v) => count(v) },
    ];
    const range: [number, number] = [d.buckets[0]?.startSeconds ?? 0, d.buckets[d.buckets.length - 1]?.endSeconds ?? 1];
    return { x, series, range };
  }, [d]);
  const df = d ? Math.max(1, d.buckets.length - 1) : 0;
  // For many degrees of freedom chi-square is about normal with mean df and variance 2 df.
  const z = d ? (d.chiSquare - df) / Math.sqrt(2 * df) : 0;
  return (
    <section class="card" aria-labelledby="jitter-h">
      <div class="card-head">
        <h2 id="jitter-h">Jitter offsets</h2>
        <label class="small muted">
          Buckets{" "}
          <select value={buckets} onChange={(e) => setBuckets(Number((e.target as HTMLSelectElement).value))}>
            {[10, 30, 60, 100].map((n) => (
              <option key={n} value={n}>
                {n}
              </option>
            ))}
          </select>
        </label>
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} inline />}
      {!d ? (
        <Loading what="the jitter distribution" />
      ) : d.triggerCount === 0n ? (
        <Empty title="No deployed cron triggers">
          <p>Deploy a workflow with a cron trigger (jitter window 300 s unless set) and its offset shows up here.</p>
        </Empty>
      ) : (
        <>
          <div class="card-body">
            <Chart
              label={`Histogram of ${d.triggerCount} cron triggers' jitter offsets over ${d.buckets.length} buckets`}
              x={chart!.x}
              series={chart!.series}
              xLabel="offset into the window (s)"
              yLabel="triggers"
              formatX={(v) => `${Math.round(v)}s`}
              xRange={chart!.range}
              testId="jitter-chart"
            />
          </div>
          <div class="card-note" data-testid="jitter-figures">
            <strong>{count(d.triggerCount)}</strong> cron trigger{d.triggerCount === 1n ? "" : "s"}, each offset taken as a share of its own window · χ² = <strong>{d.chiSquare.toFixed(1)}</strong> on {df}{" "}
            degrees of freedom (
            {Number(d.triggerCount) < 5 * d.buckets.length
              ? "too few triggers to judge the spread"
              : Math.abs(z) < 2
                ? "even, as a uniform spread would be"
                : z > 0
                  ? "uneven: offsets bunch up"
                  : "more even than chance"}
            ) ·
            largest bucket / mean = <strong>{d.maxOverMean.toFixed(2)}</strong> (1 is perfectly even)
          </div>
        </>
      )}
    </section>
  );
}

function LoadSection() {
  const { client } = useApp();
  const [win, setWin] = useState("1h");
  const w = loadWindows.find((x) => x.value === win) ?? loadWindows[0];
  const q = useQuery(
    (signal) =>
      client.getLoadDistribution(
        { window: { seconds: BigInt(w.windowS), nanos: 0 }, resolution: { seconds: BigInt(w.resolutionS), nanos: 0 } },
        { signal },
      ),
    ["load", win],
    { refreshMs: 60_000 },
  );
  const d = q.data;
  const chart = useMemo(() => {
    if (!d) return undefined;
    // Each bucket drawn from its start to the next; one more point closes the last.
    const x = d.buckets.map((b) => (ms(b.startTime) ?? 0) / 1000);
    const end = (x[x.length - 1] ?? 0) + w.resolutionS;
    const withJitter: (number | null)[] = d.buckets.map((b) => Number(b.fires));
    const without: (number | null)[] = d.buckets.map((b) => Number(b.firesWithoutJitter));
    const series: ChartSeries[] = [
      { label: "With jitter", values: [...withJitter, null], color: "--chart-1", style: "bars" },
      { label: "Without jitter", values: [...without, without[without.length - 1] ?? null], color: "--chart-2", style: "step" },
    ];
    return { x: [...x, end], series, range: [x[0] ?? 0, end] as [number, number] };
  }, [d, w.resolutionS]);
  const total = d ? d.buckets.reduce((a, b) => a + Number(b.fires), 0) : 0;
  return (
    <section class="card" aria-labelledby="load-h">
      <div class="card-head">
        <h2 id="load-h">Coming load</h2>
        <Segmented
          label="Window"
          options={loadWindows.map((x) => ({ value: x.value, label: x.label }))}
          selected={[win]}
          onChange={(v) => setWin(v[0] ?? "1h")}
          required
        />
      </div>
      {q.error !== undefined && <ErrorBox error={q.error} onRetry={q.reload} inline />}
      {!d ? (
        <Loading what="the projected load" />
      ) : total === 0 ? (
        <Empty title="No fires in this window">
          <p>No deployed cron trigger fires in the {w.label.replace("next ", "")} to come; try a longer window.</p>
        </Empty>
      ) : (
        <>
          <div class="card-body">
            <Chart
              label={`Projected fires per ${w.resolutionS / 60} minutes over the next ${w.label.replace("next ", "")}, with and without jitter`}
              x={chart!.x}
              series={chart!.series}
              time
              xRange={chart!.range}
              yLabel={`fires per ${w.resolutionS / 60} min`}
              testId="load-chart"
            />
          </div>
          <div class="card-note" data-testid="load-figures">
            Peak <strong>{count(d.peakFiresPerSecond)}</strong> fires/s with jitter, <strong>{count(d.peakFiresPerSecondWithoutJitter)}</strong>{" "}
            without · mean {d.meanFiresPerSecond.toFixed(3)} fires/s · {count(total)} fires
          </div>
        </>
      )}
    </section>
  );
}

function OffsetsSection() {
  const { client } = useApp();
  const [input, setInput] = useState("");
  const [ids, setIds] = useState<string[]>([]);
  const q = useQuery((signal) => client.getJitterDistribution({ bucketCount: 1, workflowIds: ids }, { signal }), ["offsets", ids], {
    skip: ids.length === 0,
  });
  return (
    <section class="card" aria-labelledby="offsets-h">
      <div class="card-head">
        <h2 id="offsets-h">Offsets of given workflows</h2>
      </div>
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          setIds(
            input
              .split(/[\s,]+/)
              .map((s) => s.trim())
              .filter(Boolean)
              .slice(0, 100),
          );
        }}
      >
        <label class="field" style={{ flex: "1 1 260px" }}>
          Workflow ids (comma or space separated, at most 100)
          <input value={input} onInput={(e) => setInput((e.target as HTMLInputElement).value)} placeholder="nightly-report, hello" />
        </label>
        <button type="submit">Show offsets</button>
      </form>
      {q.error !== undefined && <ErrorBox error={q.error} inline />}
      {ids.length === 0 ? (
        <p class="card-body muted">Enter workflow ids to see the offset each of their cron triggers adds to every fire.</p>
      ) : q.data && q.data.offsets.length === 0 ? (
        <Empty title="None of these has a deployed cron trigger" />
      ) : q.data ? (
        <div class="table-wrap">
          <table>
            <thead>
              <tr>
                <th>Workflow</th>
                <th>Trigger</th>
                <th class="num">Offset</th>
                <th class="num">Window</th>
                <th>Position in the window</th>
              </tr>
            </thead>
            <tbody>
              {q.data.offsets.map((o) => (
                <tr key={`${o.workflowId}/${o.triggerId}`}>
                  <td>{o.workflowId}</td>
                  <td>
                    <code>{o.triggerId}</code>
                  </td>
                  <td class="num">{o.offsetSeconds}s</td>
                  <td class="num">{o.windowSeconds}s</td>
                  <td>
                    <div class="bar" title={`${o.offsetSeconds} of ${o.windowSeconds}s`}>
                      <span style={{ width: `${o.windowSeconds ? (100 * o.offsetSeconds) / o.windowSeconds : 0}%` }} />
                    </div>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      ) : null}
    </section>
  );
}
