// The widget as one classic script and one stylesheet (dist/export/), for a report's
// self-contained HTML export: inlined into each chart's frame, it draws offline.
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  define: { "process.env.NODE_ENV": JSON.stringify("production") },
  build: {
    outDir: "dist/export",
    emptyOutDir: true,
    sourcemap: false,
    cssCodeSplit: false,
    chunkSizeWarningLimit: 400,
    lib: { entry: "src/widget/main.tsx", formats: ["iife"], name: "TracklaneWidget", fileName: () => "widget.js" },
    rollupOptions: { output: { inlineDynamicImports: true, assetFileNames: "widget.[ext]" } },
  },
});
