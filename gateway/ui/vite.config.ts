// The web UI's build: content-hashed files in dist/, which the gateway serves at `/`.
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
  },
  server: { proxy: { "/api": "http://127.0.0.1:8080" } },
});
