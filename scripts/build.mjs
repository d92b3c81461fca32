#!/usr/bin/env node
/**
 * `npm run build`: src/**\/*.ts(x) → dist/**\/*.js, file for file (no bundling, packages stay in
 * node_modules), with source maps. What `npm start` runs: the same code as under tsx, without a
 * TypeScript loader in the serving process (tsx's loader runs on a thread of its own with its own
 * heap; docs/decisions/0008-npm-start-runs-a-build.md). Type checking is `npm run typecheck`'s job; this only strips types.
 * Plain .mjs so it runs before anything is built. dist/ keeps src/'s depth, so paths relative to
 * a module (the migrations folder, the journal) resolve the same from either.
 */
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const src = path.join(root, 'src');
const out = path.join(root, 'dist');

const sources = (dir) =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) return sources(p);
    return /\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts') ? [p] : [];
  });
const entryPoints = sources(src);

rmSync(out, { recursive: true, force: true });
await build({
  entryPoints,
  outdir: out,
  outbase: src,
  format: 'esm',
  platform: 'node',
  // 20.10: import attributes (`with { type: 'json' }`); for an older target esbuild drops them
  target: 'node20.10',
  jsx: 'automatic',
  jsxImportSource: 'hono/jsx',
  sourcemap: true,
  logLevel: 'warning',
});
