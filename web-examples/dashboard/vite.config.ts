import { defineConfig } from "vite";

// The build goes into the Go tree (internal/ui/dist), which the service embeds and serves at /ui/
// with WFR_UI=on; it is committed like generated code and .ci/run checks it is not stale.
// base "./" makes every asset URL relative, so the same build works at /ui/, from
// WFR_UI_DIR, and from any static host.
export default defineConfig({
  base: "./",
  oxc: { jsx: { runtime: "automatic", importSource: "preact" } },
  resolve: {
    // The SDK is linked from ../../sdk/ts, which has its own node_modules: one copy of the
    // protobuf and Connect runtimes, so ConnectError and message types are the same classes.
    dedupe: ["@bufbuild/protobuf", "@connectrpc/connect", "@connectrpc/connect-web", "preact"],
  },
  build: {
    outDir: "../../internal/ui/dist",
    emptyOutDir: true,
    target: "es2022",
    reportCompressedSize: false,
  },
  server: { port: 5173, strictPort: true },
});
