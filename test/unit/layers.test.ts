/**
 * The folders of src/ are layers, and no import runs back up:
 * the pure shared modules and the addon's loader (root), then core/ (this
 * process's signal hub, waitpid owner and own invocation), diagnosis/
 * (reading /proc, who tsinit answers for), supervise/ (spawning and
 * supervising children), init/ (the CLI's inits), and the entry points.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import * as path from 'node:path';
import { describe, expect, it } from 'vitest';

const SRC = path.join(__dirname, '..', '..', 'src');
const ENTRIES = new Set(['index', 'register', 'cli', 'library']);
const LAYERS = ['root', 'core', 'diagnosis', 'supervise', 'init', 'entry'];

function layerOf(rel: string): string {
  const parts = rel.split('/');
  if (parts.length > 1) return parts[0]!;
  return ENTRIES.has(parts[0]!.replace(/\.m?ts$/, '')) ? 'entry' : 'root';
}

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = path.join(dir, name);
    return statSync(p).isDirectory() ? sources(p) : /\.m?ts$/.test(name) ? [p] : [];
  });
}

describe('src/ layers', () => {
  it('every folder of src/ is a known layer', () => {
    const folders = readdirSync(SRC).filter((f) => statSync(path.join(SRC, f)).isDirectory()).sort();
    expect(folders).toEqual(['core', 'diagnosis', 'init', 'supervise']);
  });

  it('no module imports from a layer above its own', () => {
    const upward: string[] = [];
    for (const file of sources(SRC)) {
      const rel = path.relative(SRC, file);
      const own = LAYERS.indexOf(layerOf(rel));
      for (const m of readFileSync(file, 'utf8').matchAll(/(?:from\s+|import\(|require\()'(\.{1,2}\/[^']+)'/g)) {
        const target = path.relative(SRC, path.join(path.dirname(file), m[1]!));
        if (LAYERS.indexOf(layerOf(`${target}.ts`)) > own) upward.push(`${rel} imports ${target}`);
      }
    }
    expect(upward).toEqual([]);
  });
});
