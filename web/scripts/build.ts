import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { brotliCompressSync, constants, gzipSync } from 'node:zlib';

/**
 * Builds the web app into web/dist, which the API node serves at `/`. Run by `npm install` and `npm ci` (the
 * `prepare` script), so the README's two commands serve the app on a fresh machine; `npm run build:web` runs it
 * again after a change. Text assets are also written gzip- and brotli-compressed, and the server sends those
 * to browsers that accept them.
 */
const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');

// A production build whatever started it: under a test runner NODE_ENV is 'test', and Vite would then bundle
// React's development build.
process.env.NODE_ENV = 'production';
let vite: typeof import('vite');
try {
  vite = await import('vite');
} catch {
  // A production install without dev dependencies serves a web/dist built elsewhere.
  console.log('web: vite is not installed (dev dependencies omitted); serving the existing web/dist, if any');
  process.exit(0);
}

const started = Date.now();
await vite.build({ configFile: join(root, 'vite.config.ts'), logLevel: 'warn', mode: 'production' });
let files = 0;
for (const file of walk(dist)) {
  if (!/\.(js|css|html|svg|json)$/.test(file)) continue;
  const body = readFileSync(file);
  if (body.length < 1024) continue;
  writeFileSync(`${file}.gz`, gzipSync(body, { level: 9 }));
  writeFileSync(`${file}.br`, brotliCompressSync(body, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }));
  files++;
}
console.log(`web: built web/dist in ${((Date.now() - started) / 1000).toFixed(1)} s (${files} files precompressed)`);

function* walk(dir: string): Generator<string> {
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) yield* walk(path);
    else yield path;
  }
}
