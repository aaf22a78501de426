// Replays the compat script (script.ts) with one tgtadm against one daemon and records a transcript (tgt-compat.md §1.8).
//
// An entry is the script line (placeholders kept), tgtadm's stdout and stderr, and its exit code,
// with the run-specific numbers (ports, temp directory) turned back into placeholders. The set of
// backing stores and device types in `--mode sys --op show` legitimately differs between tgt and
// stgt: it is cut out of the text into `stores`/`deviceTypes` and asserted separately by the tests.
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, openSync, ftruncateSync } from 'node:fs';
import { join } from 'node:path';
import { freePort, run, waitFor } from '../helpers/daemon.js';
import { newTape } from '../devices/lib.js';
import { runClient, type ClientKind, type CompatDaemon } from './daemons.js';
import { parseScript, SCRIPT, type Step } from './script.js';

export interface Entry {
  line: string;
  stdout: string;
  stderr: string;
  code: number | null;
  stgtDiffers: boolean;
}

export interface Transcript {
  entries: Entry[];
  /** "Backing stores:" lines of every `--mode sys --op show`, in order. */
  stores: string[][];
  deviceTypes: string[][];
}

/** Disk, cd and changer images the script uses (sparse, 64 MiB: tgt prints "Size: 67 MB"). */
const IMAGES = ['disk1.img', 'disk2.img', 'disk3.img', 'disk4.img', 'disk5.img', 'cd1.iso', 'cd2.iso', 'changer'];
/** Tapes (tgt's virtual tape files, made by tgtimg): one beside the images, the library's in home/. */
const TAPES = ['TAPE01', 'home/TAPE02', 'home/TAPE03', 'home/TAPE04'];

export function makeImages(dir: string): void {
  for (const f of IMAGES) {
    const fd = openSync(join(dir, f), 'w');
    ftruncateSync(fd, 64 * 1024 * 1024);
    closeSync(fd);
  }
  mkdirSync(join(dir, 'home'));
  for (const t of TAPES) newTape(join(dir, t), t.slice(t.lastIndexOf('/') + 1), 8);
}

/** Cuts the store and device-type lists out of a system show (keeps their headings). */
export function splitSystemShow(text: string): { text: string; stores: string[]; deviceTypes: string[] } | null {
  const m = /^Backing stores:\n((?: {4}.*\n)*)Device types:\n((?: {4}[^:\n]*\n)*)/m.exec(text);
  if (m === null) return null;
  const lines = (s: string): string[] => s.split('\n').filter((l) => l !== '');
  return {
    text: text.slice(0, m.index) + 'Backing stores:\n    <stores>\nDevice types:\n    <types>\n' + text.slice(m.index + m[0].length),
    stores: lines(m[1]!),
    deviceTypes: lines(m[2]!),
  };
}

export async function recordTranscript(client: ClientKind, d: CompatDaemon): Promise<Transcript> {
  makeImages(d.dir);
  const port6 = await freePort('::1');
  const vars = { DIR: d.dir, PORT: String(d.iscsiPort), PORT6: String(port6) };
  const back = (s: string): string =>
    s.split(d.dir).join('{DIR}').split(`:${d.iscsiPort}`).join(':{PORT}').split(`:${port6}`).join(':{PORT6}');
  const t: Transcript = { entries: [], stores: [], deviceTypes: [] };
  let perf: ChildProcess | null = null;
  const tgtadm = (args: string[]) => runClient(client, d, args);
  try {
    for (const step of parseScript(SCRIPT, vars)) {
      if (step.args !== null) {
        const r = await tgtadm(step.args);
        let stdout = back(r.stdout);
        if (step.args.includes('sys') || step.args.includes('system') || step.args.includes('--mode=system')) {
          const s = splitSystemShow(stdout);
          if (s !== null) {
            stdout = s.text;
            t.stores.push(s.stores);
            t.deviceTypes.push(s.deviceTypes);
          }
        }
        t.entries.push({ line: step.line, stdout, stderr: back(r.stderr), code: r.code, stgtDiffers: step.stgtDiffers });
        continue;
      }
      const note = (stdout: string): void => {
        t.entries.push({ line: step.line, stdout, stderr: '', code: 0, stgtDiffers: false });
      };
      switch (step.action) {
        case 'session':
          perf = await startSession(d, step, tgtadm);
          note('session up\n');
          break;
        case 'endsession':
          if (perf !== null) await endSession(perf, tgtadm);
          perf = null;
          note('session down\n');
          break;
        case 'iscsi-ls': {
          const r = await run('iscsi-ls', ['-i', step.params[0]!, `iscsi://127.0.0.1:${d.iscsiPort}`], { timeoutMs: 20_000 });
          note(`iscsi-ls exit ${String(r.code)}\n`);
          break;
        }
        case 'exited':
          await waitFor(() => !d.running, 10_000, 'the daemon to exit after system delete');
          note('daemon exited\n');
          break;
        default:
          throw new Error(`unknown action ${step.line}`);
      }
    }
  } finally {
    if (perf !== null && perf.exitCode === null) perf.kill('SIGKILL');
  }
  return t;
}

async function startSession(
  d: CompatDaemon,
  step: Step,
  tgtadm: (a: string[]) => Promise<{ stdout: string }>,
): Promise<ChildProcess> {
  const [iqn, lun, initiator] = step.params as [string, string, string];
  // -m 1 -b 1: one small request at a time keeps the load light; -x 0: no reconnects.
  const perf = spawn('iscsi-perf', ['-i', initiator, '-m', '1', '-b', '1', '-x', '0', `iscsi://127.0.0.1:${d.iscsiPort}/${iqn}/${lun}`], {
    stdio: 'ignore',
  });
  await waitFor(async () => {
    if (perf.exitCode !== null) throw new Error(`iscsi-perf exited with ${perf.exitCode}`);
    return (await tgtadm(['--mode', 'target', '--op', 'show'])).stdout.includes(`Initiator: ${initiator}`);
  }, 15_000, `a session from ${initiator}`);
  return perf;
}

async function endSession(perf: ChildProcess, tgtadm: (a: string[]) => Promise<{ stdout: string }>): Promise<void> {
  const gone = new Promise<void>((res) => (perf.exitCode !== null ? res() : perf.once('exit', () => res())));
  perf.kill('SIGKILL');
  await gone;
  // Gone means no I_T nexus at all, not just no connection line: the `--op stat` steps after
  // @endsession print a row per nexus, and neither daemon promises to drop both in the same turn.
  await waitFor(async () => !/I_T nexus: \d|Connection:/.test((await tgtadm(['--mode', 'target', '--op', 'show'])).stdout),
    15_000, 'the session to end (no I_T nexus left)');
}

/** A transcript as one readable text (for diffs in assertion messages). */
export function render(entries: readonly Entry[]): string {
  return entries.map((e) => `$ ${e.line}\n${e.stdout}${e.stderr === '' ? '' : `!${e.stderr}`}[exit ${String(e.code)}]\n`).join('');
}
