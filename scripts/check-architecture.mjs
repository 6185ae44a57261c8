#!/usr/bin/env node
/**
 * The architecture check run by CI: dependency-cruiser validates the module rules of
 * `.dependency-cruiser.cjs`, then the same graph collapsed to top-level folders of `src/` must have
 * no cycle. (dependency-cruiser's own `circular` rule works on modules; a cycle between folders can
 * exist without one between modules, so it is found here on the collapsed graph.)
 */
import { execFileSync } from 'node:child_process';

const depcruise = (args) =>
  execFileSync(
    'npx',
    [
      '--no-install',
      'depcruise',
      'src',
      'packages/client/src',
      '--config',
      '.dependency-cruiser.cjs',
      ...args,
    ],
    {
      encoding: 'utf8',
      maxBuffer: 64 * 1024 * 1024,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );

let failed = false;
try {
  process.stdout.write(depcruise(['--output-type', 'err']));
} catch (error) {
  process.stdout.write(String(error.stdout ?? ''));
  failed = true;
}

const graph = JSON.parse(depcruise(['--collapse', '^src/[^/]+/', '--output-type', 'json']));
const edges = new Map();
for (const module of graph.modules) {
  if (!module.source.startsWith('src/')) continue;
  const targets = module.dependencies
    .map((d) => d.resolved)
    .filter((t) => t.startsWith('src/') && t !== module.source);
  edges.set(module.source, targets);
}

/** Strongly connected components (Tarjan): every component of more than one folder is a cycle. */
function cycles() {
  let index = 0;
  const stack = [];
  const state = new Map();
  const found = [];
  const visit = (node) => {
    state.set(node, { index, low: index, onStack: true });
    index += 1;
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (!state.has(next)) {
        visit(next);
        state.get(node).low = Math.min(state.get(node).low, state.get(next).low);
      } else if (state.get(next).onStack) {
        state.get(node).low = Math.min(state.get(node).low, state.get(next).index);
      }
    }
    if (state.get(node).low === state.get(node).index) {
      const component = [];
      let member;
      do {
        member = stack.pop();
        state.get(member).onStack = false;
        component.push(member);
      } while (member !== node);
      if (component.length > 1) found.push(component.sort());
    }
  };
  for (const node of edges.keys()) if (!state.has(node)) visit(node);
  return found;
}

const folderCycles = cycles();
for (const cycle of folderCycles) {
  console.log(`error no-folder-cycle: ${cycle.length} folders depend on each other: ${cycle.join(', ')}`);
}
if (folderCycles.length > 0) failed = true;
console.log(
  failed
    ? 'architecture: FAILED'
    : `architecture: ok (${edges.size} folders and top-level modules, no cycle)`,
);
process.exit(failed ? 1 : 0);
