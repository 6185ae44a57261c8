// What the sign-in page of the dashboard downloads before it can run: the entry script that
// web/dist/index.html loads, plus every chunk it imports statically (recursively), gzipped. The
// signed-in screens are loaded later (dynamic imports) and are listed apart. Fails (exit 1) over
// the budget of 200 KB gzipped.
//
//   npm run bench:web

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'web/dist');
const BUDGET = 200 * 1024;

const gzipped = (file) => gzipSync(readFileSync(path.join(DIST, file)), { level: 9 }).length;
const kb = (bytes) => `${(bytes / 1024).toFixed(1)} KB`;

const html = readFileSync(path.join(DIST, 'index.html'), 'utf8');
const entries = [
  ...html.matchAll(/<script[^>]*\ssrc="\/([^"]+\.js)"/g),
  ...html.matchAll(/rel="modulepreload"[^>]*href="\/([^"]+)"/g),
].map((m) => m[1]);
const styles = [...html.matchAll(/rel="stylesheet"[^>]*href="\/([^"]+)"/g)].map((m) => m[1]);

/** Static imports only (`import … from "./x.js"`, `import "./x.js"`): `import("./x.js")` is lazy. */
const initial = new Set();
const lazy = new Set();
const visit = (file) => {
  if (initial.has(file)) return;
  initial.add(file);
  const code = readFileSync(path.join(DIST, file), 'utf8');
  const dir = path.posix.dirname(file);
  for (const m of code.matchAll(/(?:from|import)\s*"(\.\/[^"]+\.js)"/g)) visit(path.posix.join(dir, m[1]));
  for (const m of code.matchAll(/import\(\s*"(\.\/[^"]+\.js)"\s*\)/g)) lazy.add(path.posix.join(dir, m[1]));
};
for (const entry of entries) visit(entry);

const js = [...initial].reduce((sum, file) => sum + gzipped(file), 0);
const css = styles.reduce((sum, file) => sum + gzipped(file), 0);
console.log(`sign-in page, initial JavaScript: ${kb(js)} gzipped (${[...initial].join(', ')})`);
console.log(`sign-in page, stylesheet: ${kb(css)} gzipped`);
for (const file of [...lazy].filter((f) => !initial.has(f)).sort()) {
  console.log(`  loaded later: ${file} ${kb(gzipped(file))} gzipped`);
}
console.log(`budget: ${kb(BUDGET)} → ${js <= BUDGET ? 'within' : 'OVER'}`);
if (js > BUDGET) process.exit(1);
