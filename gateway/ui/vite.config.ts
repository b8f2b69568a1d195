// The web UI's build: content-hashed files in dist/, which the gateway serves at `/` (the app)
// and at `/widget/` (widget.html, the embeddable charts).
import react from "@vitejs/plugin-react";
import { defineConfig } from "vite";

export default defineConfig({
  plugins: [react()],
  build: {
    outDir: "dist",
    emptyOutDir: true,
    assetsDir: "assets",
    sourcemap: false,
    chunkSizeWarningLimit: 300,
    // two pages: the app, and the /widget/ page that draws embedded charts with the same code
    rollupOptions: { input: { main: "index.html", widget: "widget.html" } },
  },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
