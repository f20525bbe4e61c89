import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import vue from "@vitejs/plugin-vue";

// The bundle is written into the Go package that embeds it
// (internal/adminui/dist) and committed; CI rebuilds it and fails when the
// committed copy differs, so the build must be deterministic: hashed names
// come from content only, and no build time or absolute path is written.
export default defineConfig({
  base: "/admin/",
  plugins: [vue()],
  resolve: {
    alias: { "@": fileURLToPath(new URL("./src", import.meta.url)) },
  },
  build: {
    outDir: fileURLToPath(new URL("../../internal/adminui/dist", import.meta.url)),
    emptyOutDir: true,
    target: "es2020",
    sourcemap: false,
    chunkSizeWarningLimit: 1500,
    rollupOptions: {
      output: {
        // Libraries change rarely: their chunks keep their hashes (and the
        // committed files) across console changes.
        manualChunks(id) {
          if (id.includes("node_modules/echarts") || id.includes("node_modules/zrender")) return "echarts";
          if (id.includes("node_modules/element-plus") || id.includes("node_modules/@element-plus")) return "element-plus";
          if (id.includes("node_modules/")) return "vendor";
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: {
      "/api": process.env.MINIMALL_URL ?? "http://127.0.0.1:8080",
      "/media": process.env.MINIMALL_URL ?? "http://127.0.0.1:8080",
    },
  },
  test: {
    include: ["test/**/*.test.ts"],
  },
} as any);
