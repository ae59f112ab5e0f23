// A workflow definition drawn as its graph: nodes laid out in layers by dagre (loaded only when a
// graph is shown), edges from each dependency to the node that needs it.
import { useEffect, useMemo, useState } from "preact/hooks";
import type { Node } from "@workflow-runtime/sdk";

interface Placed {
  id: string;
  type: string;
  x: number;
  y: number;
  w: number;
  h: number;
}

interface Layout {
  width: number;
  height: number;
  nodes: Placed[];
  edges: { from: string; to: string; d: string }[];
}

const nodeHeight = 50;

/** A path through points, with the corners rounded by quadratic curves. */
function smooth(points: { x: number; y: number }[]): string {
  if (points.length === 0) return "";
  let d = `M${points[0].x},${points[0].y}`;
  for (let i = 1; i < points.length - 1; i++) {
    const p = points[i];
    const n = points[i + 1];
    d += ` Q${p.x},${p.y} ${(p.x + n.x) / 2},${(p.y + n.y) / 2}`;
  }
  const last = points[points.length - 1];
  return `${d} L${last.x},${last.y}`;
}

async function layoutGraph(nodes: Node[], direction: "LR" | "TB"): Promise<Layout> {
  const { Graph, layout } = await import("@dagrejs/dagre");
  const g = new Graph();
  g.setGraph({ rankdir: direction, nodesep: 24, ranksep: 56, marginx: 12, marginy: 12 });
  g.setDefaultEdgeLabel(() => ({}));
  const ids = new Set(nodes.map((n) => n.id));
  for (const n of nodes) {
    const w = Math.min(280, Math.max(120, Math.max(n.id.length * 8.2, n.type.length * 7.4) + 32));
    g.setNode(n.id, { width: w, height: nodeHeight });
  }
  for (const n of nodes) for (const dep of n.dependsOn) if (ids.has(dep)) g.setEdge(dep, n.id);
  layout(g);
  const placed: Placed[] = nodes.map((n) => {
    const p = g.node(n.id) as { x: number; y: number; width: number; height: number };
    return { id: n.id, type: n.type, x: p.x - p.width / 2, y: p.y - p.height / 2, w: p.width, h: p.height };
  });
  const edges = g.edges().map((e) => {
    const pts = (g.edge(e) as { points: { x: number; y: number }[] }).points;
    return { from: e.v, to: e.w, d: smooth(pts) };
  });
  const gl = g.graph() as { width?: number; height?: number };
  return { width: Math.ceil(gl.width ?? 0), height: Math.ceil(gl.height ?? 0), nodes: placed, edges };
}

export function Dag({ nodes }: { nodes: Node[] }) {
  const [layout, setLayout] = useState<Layout>();
  const [failed, setFailed] = useState<string>();
  const [selected, setSelected] = useState<string>();
  const direction: "LR" | "TB" = window.innerWidth < 700 ? "TB" : "LR";
  const key = useMemo(() => JSON.stringify(nodes.map((n) => [n.id, n.type, n.dependsOn])), [nodes]);

  useEffect(() => {
    let live = true;
    layoutGraph(nodes, direction).then(
      (l) => live && setLayout(l),
      (err: unknown) => live && setFailed(err instanceof Error ? err.message : String(err)),
    );
    return () => {
      live = false;
    };
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key, direction]);

  if (failed) return <p class="alert">The graph could not be laid out: {failed}</p>;
  if (!layout) return <div class="loading">Laying out the graph…</div>;
  const node = nodes.find((n) => n.id === selected);
  return (
    <>
      <div class="dag">
        <svg
          width={layout.width}
          height={layout.height}
          viewBox={`0 0 ${layout.width} ${layout.height}`}
          role="img"
          aria-label={`Workflow graph: ${nodes.length} nodes, ${layout.edges.length} dependencies`}
          data-testid="dag"
        >
          <defs>
            <marker id="dag-arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse">
              <path class="arrow" d="M0,0 L10,5 L0,10 z" />
            </marker>
          </defs>
          {layout.edges.map((e) => (
            <path key={`${e.from}->${e.to}`} class="edge" d={e.d} marker-end="url(#dag-arrow)">
              <title>
                {e.from} → {e.to}
              </title>
            </path>
          ))}
          {layout.nodes.map((n) => (
            <g
              key={n.id}
              class="node"
              tabIndex={0}
              role="button"
              aria-pressed={selected === n.id}
              aria-label={`Node ${n.id}, type ${n.type}`}
              transform={`translate(${n.x},${n.y})`}
              onClick={() => setSelected(selected === n.id ? undefined : n.id)}
              onKeyDown={(e) => {
                if (e.key === "Enter" || e.key === " ") {
                  e.preventDefault();
                  setSelected(selected === n.id ? undefined : n.id);
                }
              }}
            >
              <rect width={n.w} height={n.h} rx="8" style={selected === n.id ? { stroke: "var(--accent)" } : undefined} />
              <text class="id" x={n.w / 2} y="21" text-anchor="middle">
                {n.id}
              </text>
              <text class="type" x={n.w / 2} y="38" text-anchor="middle">
                {n.type}
              </text>
            </g>
          ))}
        </svg>
      </div>
      {node ? (
        <div class="card-note">
          <strong>{node.id}</strong> <span class="muted">({node.type})</span>
          {node.dependsOn.length > 0 && <span class="muted"> · after {node.dependsOn.join(", ")}</span>}
          <pre class="block" style={{ marginTop: "8px" }}>
            {node.params ? JSON.stringify(node.params, null, 2) : "no parameters"}
          </pre>
        </div>
      ) : (
        <div class="card-note">Select a node (click, or Tab then Enter) to see its parameters.</div>
      )}
    </>
  );
}
