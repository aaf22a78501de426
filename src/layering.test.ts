// The direction of imports (design.md section 1): reads the import statements of src/**/*.ts (test
// files excepted) and fails on an import cycle or an import against the layering.
//
//   scsi <- iscsi <- lld, scsi <- bs; modules below mgmt; only daemon/ wires them together.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The source tree: this file runs as dist/src/layering.test.js, its source is src/layering.test.ts. */
const SRC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'src');

interface Edge {
  from: string;
  to: string;
  /** `import type` / `export type` / every specifier `type X`: erased by tsc, no load-time dependency. */
  typeOnly: boolean;
}

function sources(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) sources(p, out);
    else if (e.name.endsWith('.ts') && !e.name.endsWith('.test.ts') && !e.name.endsWith('.d.ts')) out.push(p);
  }
  return out;
}

const STATIC = /^\s*(import|export)\s+(type\s+)?([^'";]*?)\s*from\s*['"]([^'"]+)['"]/gm;
const BARE = /^\s*import\s*['"]([^'"]+)['"]/gm;
const DYNAMIC = /\bimport\(\s*['"]([^'"]+)['"]\s*\)/g;

function edgesOf(file: string): Edge[] {
  const text = readFileSync(file, 'utf8');
  const from = relative(SRC, file);
  const out: Edge[] = [];
  const add = (spec: string, typeOnly: boolean): void => {
    if (!spec.startsWith('.')) return; // node: and npm packages
    const to = normalize(join(dirname(from), spec)).replace(/\.js$/, '.ts');
    out.push({ from, to, typeOnly });
  };
  for (const m of text.matchAll(STATIC)) {
    const clause = m[3]!.trim();
    const inner = /^\{([^}]*)\}$/.exec(clause);
    const allTypes = inner !== null && inner[1]!.split(',').map((s) => s.trim()).filter((s) => s !== '').every((s) => s.startsWith('type '));
    add(m[4]!, m[2] !== undefined || allTypes);
  }
  for (const m of text.matchAll(BARE)) add(m[1]!, false);
  for (const m of text.matchAll(DYNAMIC)) add(m[1]!, false);
  return out;
}

const files = sources(SRC).map((f) => relative(SRC, f));
const edges = sources(SRC).flatMap(edgesOf);
const layerOf = (p: string): string => (p.includes('/') ? p.slice(0, p.indexOf('/')) : '');

/** What each layer must not import (design.md section 1, issue 8 item 7). */
function violation(e: Edge): string | null {
  const [a, b] = [layerOf(e.from), layerOf(e.to)];
  if (a === b) {
    // An LLD does not reach into another LLD, only into the contract (lld/api.ts).
    if (a === 'lld' && e.from.split('/')[1] !== e.to.split('/')[1] && e.to !== 'lld/api.ts' && e.from !== 'lld/api.ts') {
      return 'an LLD imports only lld/api.ts of the other drivers';
    }
    return null;
  }
  switch (a) {
    case 'scsi':
      // The engine reads and writes through the backing-store contract, never a store.
      if (b === 'bs') return e.to === 'bs/api.ts' ? null : 'scsi/ imports only bs/api.ts of the stores';
      return ['iscsi', 'lld', 'mgmt', 'daemon', 'modules', 'cli'].includes(b) ? 'scsi/ knows no transport or management' : null;
    case 'iscsi':
      return ['lld', 'mgmt', 'daemon', 'bs', 'modules', 'cli'].includes(b) ? 'iscsi/ is transport-neutral and below lld/ and mgmt/' : null;
    case 'lld':
      if (['mgmt', 'daemon', 'bs', 'modules', 'cli'].includes(b)) return 'an LLD sees only contracts and the iSCSI layer';
      if (b === 'scsi' && e.to !== 'scsi/api.ts') return 'an LLD imports only scsi/api.ts of the SCSI engine';
      return null;
    case 'bs':
      return e.to === 'scsi/api.ts' || b === 'native' ? null : 'a backing store imports only bs/, scsi/api.ts and native/';
    case 'native':
      return 'native/ (finding optional addons) is a leaf: it imports nothing from src/';
    case 'modules':
      return ['mgmt', 'daemon', 'cli'].includes(b) ? 'the registry is below the management layer and the daemon' : null;
    case 'mgmt':
      return ['daemon', 'cli'].includes(b) ? 'mgmt/ does not import the daemon that creates it' : null;
    default:
      return null;
  }
}

/**
 * Cycles that exist only through an `import type` back-reference (erased by tsc: no load-order
 * dependency). Listed so that a new cycle of any kind fails; remove an entry once it is untangled.
 */
const TYPE_ONLY_CYCLES_ALLOWED = new Set([
  'cli/tgt-admin-core.ts -> cli/tgt-admin-lun.ts',
  'lld/iser/testing/loopback-provider.ts -> lld/iser/testing/loopback-qp.ts',
]);

function cycles(all: Edge[]): { cycle: string[]; typeOnly: boolean }[] {
  const graph = new Map<string, Edge[]>();
  for (const f of files) graph.set(f, []);
  for (const e of all) if (graph.has(e.to)) graph.get(e.from)!.push(e);
  const found: { cycle: string[]; typeOnly: boolean }[] = [];
  const state = new Map<string, 1 | 2>();
  const stack: Edge[] = [];
  const path: string[] = [];
  const visit = (u: string): void => {
    state.set(u, 1);
    path.push(u);
    for (const e of graph.get(u)!) {
      stack.push(e);
      if (state.get(e.to) === 1) {
        const i = path.indexOf(e.to);
        const es = stack.slice(stack.length - (path.length - i));
        found.push({ cycle: path.slice(i), typeOnly: es.some((x) => x.typeOnly) });
      } else if (!state.has(e.to)) visit(e.to);
      stack.pop();
    }
    path.pop();
    state.set(u, 2);
  };
  for (const f of [...files].sort()) if (!state.has(f)) visit(f);
  return found;
}

test('the parser sees the tree', () => {
  assert.ok(files.length > 50, `${files.length} files under ${SRC}`);
  assert.ok(edges.some((e) => e.from === 'daemon/tgtd.ts' && e.to === 'modules/registry.ts'));
  assert.ok(edges.some((e) => e.from === 'daemon/tgtd.ts' && e.to === 'lld/iscsi/module.ts'), 'dynamic imports are read');
  assert.ok(edges.some((e) => e.from === 'mgmt/host.ts' && e.to === 'scsi/target.ts' && e.typeOnly));
  assert.ok(files.every((f) => f.startsWith('cli/') || f.startsWith('daemon/') || layerOf(f) !== ''));
});

test('no import goes against the layering', () => {
  const bad = edges.flatMap((e) => {
    const why = violation(e);
    return why === null ? [] : [`${e.from} -> ${e.to}: ${why}`];
  });
  assert.deepEqual(bad, []);
});

test('no import cycle (type-only back-references listed explicitly)', () => {
  const bad = cycles(edges)
    .filter((c) => !(c.typeOnly && c.cycle.length === 2 && TYPE_ONLY_CYCLES_ALLOWED.has(c.cycle.join(' -> '))))
    .map((c) => `${c.cycle.join(' -> ')} -> ${c.cycle[0]}${c.typeOnly ? ' (through import type)' : ''}`);
  assert.deepEqual(bad, []);
});

test('the rules refuse what issue 8 item 7 names', () => {
  const bad = (from: string, to: string): boolean => violation({ from, to, typeOnly: false }) !== null;
  assert.ok(bad('modules/registry.ts', 'mgmt/errors.ts'));
  assert.ok(bad('lld/iscsi/driver.ts', 'mgmt/accounts.ts'));
  assert.ok(bad('lld/iscsi/driver.ts', 'scsi/target.ts'));
  assert.ok(bad('lld/iser/driver.ts', 'lld/iscsi/driver.ts'));
  assert.ok(bad('iscsi/target-driver.ts', 'lld/api.ts'));
  assert.ok(bad('scsi/logical-unit.ts', 'mgmt/errors.ts'));
  assert.ok(bad('bs/rdwr.ts', 'scsi/target.ts'));
  assert.ok(!bad('lld/iscsi/driver.ts', 'lld/api.ts'));
  assert.ok(!bad('lld/iscsi/driver.ts', 'scsi/api.ts'));
  assert.ok(!bad('bs/rdwr.ts', 'scsi/api.ts'));
  assert.ok(!bad('daemon/tgtd.ts', 'mgmt/host.ts'));
});
