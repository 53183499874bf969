import { existsSync } from 'node:fs';
import * as path from 'node:path';

/** The tests run the built CLI (dist/) and addon (build/ or prebuilds/): fail early, clearly, if either is missing. */
export default function setup(): void {
  const root = path.join(__dirname, '..');
  if (!existsSync(path.join(root, 'dist', 'cli.js'))) {
    throw new Error('dist/ is missing: run `npm run build:ts` (npm ci does it through the prepare script)');
  }
}
