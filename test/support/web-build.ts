import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const WEB = join(ROOT, 'web');

/** Dependency-free server modules the app imports (the vocabulary both share): sources of the app too. */
const SHARED_WITH_SERVER = ['src/access/roles.ts', 'src/clinical/vocabulary.ts', 'src/analytics/csv.ts'];

/** Builds web/dist when it is missing or older than any source of the app (npm install and npm ci build it too). */
export function ensureWebBuilt(): void {
  const index = join(WEB, 'dist', 'index.html');
  const newest = (dir: string): number =>
    Math.max(
      0,
      ...readdirSync(dir).map((n) => (statSync(join(dir, n)).isDirectory() ? newest(join(dir, n)) : statSync(join(dir, n)).mtimeMs)),
    );
  const sources = Math.max(
    newest(join(WEB, 'src')),
    statSync(join(WEB, 'index.html')).mtimeMs,
    statSync(join(WEB, 'vite.config.ts')).mtimeMs,
    ...SHARED_WITH_SERVER.map((f) => statSync(join(ROOT, f)).mtimeMs),
  );
  if (existsSync(index) && statSync(index).mtimeMs >= sources) return;
  execFileSync(process.execPath, [join(ROOT, 'node_modules', 'tsx', 'dist', 'cli.mjs'), join(WEB, 'scripts', 'build.ts')], {
    stdio: 'inherit',
    cwd: ROOT,
  });
}
