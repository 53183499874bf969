import { existsSync, readdirSync, statSync } from 'node:fs';
import * as path from 'node:path';

/**
 * The tests run the built CLI (dist/, bin/tsinit loads dist/tsinit.cjs), the
 * built library (dist/library.cjs behind the package's entries) and
 * addon (build/ or prebuilds/): fail early, clearly, if the build is missing
 * or older than the sources.
 */
export default function setup(): void {
  const root = path.join(__dirname, '..', '..');
  const src = path.join(root, 'src');
  // Recursive: the sources may sit in folders.
  const newestSource = Math.max(...readdirSync(src, { recursive: true, encoding: 'utf8' })
    .map((f) => statSync(path.join(src, f)).mtimeMs));
  for (const built of ['cli.js', 'tsinit.cjs', 'library.cjs']) {
    const file = path.join(root, 'dist', built);
    if (!existsSync(file)) {
      throw new Error(`dist/${built} is missing: run \`npm run build:ts\` (npm ci does it through the prepare script)`);
    }
    if (statSync(file).mtimeMs < newestSource) {
      throw new Error(`dist/${built} is older than src/: run \`npm run build:ts\``);
    }
  }
}
