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
        // The charting library is loaded only by the screens with a chart. React is a chunk of its own, or the
        // charts chunk (whose libraries import React) would pull it in and every route would load the charts.
        // Everything else is split by use: the sign-in route gets the components it shows, not the whole library.
        manualChunks: (id) => {
          if (/node_modules\/(react|react-dom|scheduler)\//.test(id)) return 'react';
          if (
            /node_modules\/(recharts|victory-vendor|d3-|@reduxjs|redux|redux-thunk|immer|react-redux|reselect|es-toolkit|decimal\.js-light|eventemitter3|react-is|tiny-invariant|use-sync-external-store)\//.test(
              id,
            )
          )
            return 'charts';
          return undefined;
        },
      },
    },
  },
  server: {
    proxy: Object.fromEntries(
      ['/api', '/scim', '/fhir', '/healthz', '/readyz'].map((path) => [path, { target: api, changeOrigin: false }]),
    ),
  },
});
