#!/usr/bin/env node
// Summarizes a V8 CPU profile (node --cpu-prof): the functions with the most self time, with their share of the profile's wall time.
//
// Usage: node bench/prof-summary.mjs PROFILE.cpuprofile [N=40]
import { readFileSync } from 'node:fs';

const [file, nArg] = process.argv.slice(2);
if (!file) {
  console.error('usage: node bench/prof-summary.mjs PROFILE.cpuprofile [N]');
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
const self = new Map();
for (const [id, t] of perNode) {
  const cf = byId.get(id).callFrame;
  const k = `${cf.functionName || '(anon)'} ${cf.url.split('/').slice(-2).join('/')}:${cf.lineNumber}`;
  self.set(k, (self.get(k) ?? 0) + t);
}
console.log('total ms', (total / 1000).toFixed(0));
for (const [k, t] of [...self].sort((a, b) => b[1] - a[1]).slice(0, Number(nArg ?? 40))) {
  console.log((t / 1000).toFixed(0).padStart(7), `${((100 * t) / total).toFixed(1)}%`.padStart(6), k);
}
