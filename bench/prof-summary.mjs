#!/usr/bin/env node
// Summarizes a V8 CPU profile (node --cpu-prof): the functions with the most self time (or, with --total, the most time including what they call), with their share of the profile's wall time.
//
// Usage: node bench/prof-summary.mjs PROFILE.cpuprofile [N=40] [--total]
import { readFileSync } from 'node:fs';

const args = process.argv.slice(2);
const inclusive = args.includes('--total');
const [file, nArg] = args.filter((a) => a !== '--total');
if (!file) {
  console.error('usage: node bench/prof-summary.mjs PROFILE.cpuprofile [N] [--total]');
  process.exit(2);
}
const p = JSON.parse(readFileSync(file, 'utf8'));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const perNode = new Map();
let total = 0;
for (let i = 0; i < p.samples.length; i++) {
  const dt = p.timeDeltas[i] ?? 0;
  perNode.set(p.samples[i], (perNode.get(p.samples[i]) ?? 0) + dt);
  total += dt;
}
const nameOf = (n) => {
  const cf = n.callFrame;
  return `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;
};
const sums = new Map();
if (inclusive) {
  // Time of a node's subtree, counted once per function even where it recurses.
  const parent = new Map();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  for (const [id, t] of perNode) {
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const k = nameOf(byId.get(at));
      if (seen.has(k)) continue;
      seen.add(k);
      sums.set(k, (sums.get(k) ?? 0) + t);
    }
  }
} else {
  for (const [id, t] of perNode) {
    const k = nameOf(byId.get(id));
    sums.set(k, (sums.get(k) ?? 0) + t);
  }
}
console.log('total ms', (total / 1000).toFixed(0), inclusive ? '(time including callees)' : '(self time)');
for (const [k, t] of [...sums].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 40))) {
  console.log((t / 1000).toFixed(0).padStart(7), `${((100 * t) / total).toFixed(1)}%`.padStart(6), k);
}
