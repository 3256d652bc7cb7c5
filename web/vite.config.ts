import { fileURLToPath } from 'node:url';
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';

/**
 * The web app: built into web/dist, which the API node serves at `/` (src/http/web-app.ts). In development
 * `npx vite web` serves it with hot reload and sends the API's paths to a running `npm start`.
 */
const api = process.env.POLYCLINIC_API_URL ?? 'http://127.0.0.1:3000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  plugins: [react()],
  build: {
    outDir: 'dist',
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: false,
    chunkSizeWarningLimit: 700,
    rollupOptions: {
      output: {
        // The charting library is loaded only by the screens with a chart. Everything else is split by use: the
        // sign-in route gets the components it shows, not the whole component library.
        manualChunks: (id) =>
          /node_modules\/(recharts|victory-vendor|d3-|@reduxjs|immer|react-redux|reselect|es-toolkit|decimal\.js-light)/.test(id) ? 'charts' : undefined,
      },
    },
  },
  server: {
    proxy: Object.fromEntries(['/api', '/scim', '/fhir', '/healthz', '/readyz'].map((path) => [path, { target: api, changeOrigin: false }])),
  },
});
