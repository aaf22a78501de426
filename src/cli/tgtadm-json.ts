// `tgtadm --json` (stgt's extension; tgt's tgtadm has no such option): the text of an `--op show` turned into JSON, so the same answer serves scripts. Schema: README "tgtadm --json".
//
// Built from the text tgtd sends, not from a second answer of the daemon, so it works against
// Debian's tgtd as well as stgt's, and the JSON never says more or less than the text. The text is
// a tree by indentation (4 spaces a level). A line "Key: value" is a member (key in camelCase, the
// value as tgt's text: a string); "Key:" with indented lines under it is an object; lines with no
// ": " are items: a list of strings, or an object when every item is "k=v" (iSNS, parameters).
// Repeated entities become arrays: "Target N: IQN" -> targets[{ tid, name, ... }], "LUN: N" ->
// luns[{ lun, ... }], "I_T nexus: N" -> itNexuses[{ id, ... }], "Connection: N" ->
// connections[{ cid, ... }], "Session: N" -> sessions[{ sid, ... }], "Portal: P" -> portals["P"].
// The key of a member of a "Key:" object that lists names (LLDs: "iscsi: ready") is kept as written.

import { MODE_TARGET } from '../mgmt/ipc.js';

interface Node {
  key: string;
  value: string | null;
  /** A line without ": " (an account, an ACL entry, "iSNS=Off", "rdwr (bsoflags sync:direct)"). */
  bare: boolean;
  children: Node[];
}

function parseTree(text: string): Node[] {
  const root: Node = { key: '', value: null, bare: false, children: [] };
  const stack: { depth: number; node: Node }[] = [{ depth: -1, node: root }];
  for (const line of text.split('\n')) {
    if (line.trim() === '') continue;
    const depth = Math.floor((line.length - line.trimStart().length) / 4);
    // Trailing spaces kept: "Backing store flags: " is a member with an empty value.
    const body = line.trimStart();
    const colon = body.indexOf(': ');
    let node: Node;
    if (body.endsWith(':') && colon < 0) node = { key: body.slice(0, -1), value: null, bare: false, children: [] };
    else if (colon > 0) node = { key: body.slice(0, colon), value: body.slice(colon + 2), bare: false, children: [] };
    else node = { key: body, value: null, bare: true, children: [] };
    while (stack.length > 1 && stack[stack.length - 1]!.depth >= depth) stack.pop();
    stack[stack.length - 1]!.node.children.push(node);
    stack.push({ depth, node });
  }
  return root.children;
}

/** "Backing store type" -> "backingStoreType", "SCSI ID" -> "scsiId", "I_T nexus information" -> "itNexusInformation". */
export function camelKey(key: string): string {
  const words = key.replace(/I_T/g, 'IT').split(/[^A-Za-z0-9]+/).filter((w) => w !== '');
  return words.map((w, i) => (i === 0 ? w.toLowerCase() : w[0]!.toUpperCase() + w.slice(1).toLowerCase())).join('');
}

/** Entities that repeat: their line's key, the array they go in, the field their value becomes. */
const ENTITIES: { match: RegExp; list: string; id: string; numeric: boolean }[] = [
  { match: /^LUN$/, list: 'luns', id: 'lun', numeric: true },
  { match: /^I_T nexus$/, list: 'itNexuses', id: 'id', numeric: true },
  { match: /^Connection$/, list: 'connections', id: 'cid', numeric: true },
  { match: /^Session$/, list: 'sessions', id: 'sid', numeric: true },
];

const LISTS = new Set(['targets', 'portals', ...ENTITIES.map((e) => e.list)]);

/** A "... information:" heading holding only one kind of entity is that array ({ luns: [...] } -> [...]). */
function unwrap(v: Json): Json {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return v;
  const keys = Object.keys(v);
  return keys.length === 1 && LISTS.has(keys[0]!) ? v[keys[0]!]! : v;
}

type Json = string | number | boolean | null | Json[] | { [k: string]: Json };

function convert(nodes: Node[], literalKeys: boolean): Json {
  if (nodes.length > 0 && nodes.every((n) => n.bare && n.children.length === 0)) {
    if (nodes.every((n) => /^[^=\s]+=/.test(n.key))) {
      const o: Record<string, Json> = {};
      for (const n of nodes) o[n.key.slice(0, n.key.indexOf('='))] = n.key.slice(n.key.indexOf('=') + 1);
      return o;
    }
    return nodes.map((n) => n.key);
  }
  const obj: Record<string, Json> = {};
  const push = (list: string, item: Json): void => {
    const a = (obj[list] ??= []) as Json[];
    a.push(item);
  };
  for (const n of nodes) {
    const target = /^Target (\d+)$/.exec(n.key);
    const entity = ENTITIES.find((e) => e.match.test(n.key));
    if (target !== null) {
      push('targets', { tid: Number(target[1]), name: n.value ?? '', ...(convert(n.children, false) as Record<string, Json>) });
    } else if (entity !== undefined && n.value !== null) {
      const id = entity.numeric && /^\d+$/.test(n.value) ? Number(n.value) : n.value;
      push(entity.list, { [entity.id]: id, ...(n.children.length > 0 ? (convert(n.children, false) as Record<string, Json>) : {}) });
    } else if (n.key === 'Portal' && n.value !== null && n.children.length === 0) {
      push('portals', n.value);
    } else if (n.bare) {
      push('items', n.key);
    } else {
      const key = literalKeys ? n.key : camelKey(n.key);
      // "LLDs:" lists drivers by name: keep their names as keys.
      const v: Json = n.value ?? (n.children.length > 0 ? unwrap(convert(n.children, n.key === 'LLDs')) : []);
      if (key in obj) {
        const prev = obj[key]!;
        obj[key] = Array.isArray(prev) && (prev as Json[]).length > 0 && n.value === null ? [...(prev as Json[]), v] : [prev, v];
      } else obj[key] = v;
    }
  }
  return obj;
}

/** The JSON text (pretty, with a final line feed) for the body of an `--op show` of `mode`. */
export function showJson(mode: number, text: string): string {
  // No target at all is an empty list, not an empty object (what scripts iterate over).
  const v = mode === MODE_TARGET && text.trim() === '' ? { targets: [] } : convert(parseTree(text), false);
  return `${JSON.stringify(v, null, 2)}\n`;
}
