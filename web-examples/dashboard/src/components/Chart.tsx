// uPlot charts (a small, fast canvas chart library), coloured from the page's CSS variables and
// redrawn when the theme changes or the container resizes.
import { useEffect, useRef, useState } from "preact/hooks";
import type uPlot from "uplot";

// uPlot and its stylesheet load with the first chart, not with the dashboard.
let loading: Promise<typeof uPlot> | undefined;
function loadUPlot(): Promise<typeof uPlot> {
  loading ??= Promise.all([import("uplot"), import("uplot/dist/uPlot.min.css")]).then(([m]) => m.default);
  return loading;
}

/** The event the theme toggle sends. */
export const themeEvent = "wfr:theme";

function cssVar(name: string): string {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || "#888";
}

/** Changes whenever the colours may have changed (toggle, or the system's scheme). */
function useThemeKey(): number {
  const [key, setKey] = useState(0);
  useEffect(() => {
    const bump = () => setKey((k) => k + 1);
    const mq = matchMedia("(prefers-color-scheme: dark)");
    mq.addEventListener("change", bump);
    window.addEventListener(themeEvent, bump);
    return () => {
      mq.removeEventListener("change", bump);
      window.removeEventListener(themeEvent, bump);
    };
  }, []);
  return key;
}

export interface ChartSeries {
  label: string;
  values: (number | null)[];
  /** CSS variable of its colour, e.g. "--chart-1". */
  color: string;
  style: "bars" | "step" | "line";
  /** Formats a value in the legend. */
  format?: (v: number) => string;
}

export interface ChartProps {
  /** Accessible description of what the chart shows. */
  label: string;
  x: number[];
  /** x values are Unix seconds (time axis) rather than plain numbers. */
  time?: boolean;
  series: ChartSeries[];
  height?: number;
  xLabel?: string;
  yLabel?: string;
  formatX?: (v: number) => string;
  /** The x scale's range; default: the first to the last x. */
  xRange?: [number, number];
  testId?: string;
}

export function Chart({ label, x, time, series, height = 240, xLabel, yLabel, formatX, xRange, testId }: ChartProps) {
  const box = useRef<HTMLDivElement>(null);
  const theme = useThemeKey();

  useEffect(() => {
    const el = box.current;
    if (!el) return;
    let u: uPlot | undefined;
    let ro: ResizeObserver | undefined;
    let cancelled = false;
    void loadUPlot().then((UPlot) => {
      if (cancelled) return;
      const fg = cssVar("--fg-muted");
      const grid = cssVar("--border");
      const axis = (lbl?: string): uPlot.Axis => ({
        stroke: fg,
        grid: { stroke: grid, width: 1 },
        ticks: { stroke: grid, width: 1 },
        label: lbl,
        labelSize: lbl ? 20 : 0,
        font: "12px system-ui, sans-serif",
        labelFont: "12px system-ui, sans-serif",
      });
      const opts: uPlot.Options = {
        width: Math.max(el.clientWidth, 200),
        height,
        scales: { x: { time: !!time, ...(xRange ? { range: () => xRange } : {}) }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [
          { ...axis(xLabel), values: formatX ? (_u, vals) => vals.map((v) => formatX(v)) : undefined },
          { ...axis(yLabel), size: 48 },
        ],
        legend: { show: true, live: true },
        cursor: { drag: { x: false, y: false }, points: { show: true } },
        series: [
          { label: time ? "Time" : "Offset", value: formatX ? (_u, v) => (v == null ? "—" : formatX(v)) : undefined },
          ...series.map((s): uPlot.Series => {
            const color = cssVar(s.color);
            const base: uPlot.Series = {
              label: s.label,
              stroke: color,
              width: s.style === "bars" ? 1 : 2,
              value: s.format ? (_u, v) => (v == null ? "—" : s.format!(v)) : undefined,
              points: { show: false },
            };
            if (s.style === "bars") {
              return { ...base, fill: `${color}cc`, paths: UPlot.paths.bars!({ size: [0.8, 48], align: time ? 1 : 0 }) };
            }
            if (s.style === "step") {
              return { ...base, paths: UPlot.paths.stepped!({ align: 1 }) };
            }
            return base;
          }),
        ],
      };
      const plot = new UPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
      u = plot;
      el.dataset.drawn = "true";
      ro = new ResizeObserver(() => {
        const w = el.clientWidth;
        if (w > 0 && Math.abs(w - plot.width) > 1) plot.setSize({ width: w, height });
      });
      ro.observe(el);
    });
    return () => {
      cancelled = true;
      ro?.disconnect();
      u?.destroy();
      delete el.dataset.drawn;
    };
  }, [x, series, time, height, xLabel, yLabel, formatX, xRange, theme]);

  const total = series.length ? series[0].values.reduce<number>((a, v) => a + (v ?? 0), 0) : 0;
  return (
    <div class="chart" ref={box} role="img" aria-label={label} data-testid={testId} data-points={series[0]?.values.filter((v) => v !== null).length ?? 0} data-total={total} />
  );
}
