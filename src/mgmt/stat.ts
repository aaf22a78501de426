// `--op stat` tables (tgt target.c tgt_stat_header / tgt_stat_line): fixed-width per-LU, per-nexus counters.

/** Counters of one LU as seen by one I_T nexus. */
export interface LuStat {
  rdSubmBytes: number;
  rdSubmCmds: number;
  rdDoneBytes: number;
  rdDoneCmds: number;
  wrSubmBytes: number;
  wrSubmCmds: number;
  wrDoneBytes: number;
  wrDoneCmds: number;
  errs: number;
}

interface StatTarget {
  readonly tid: number;
  sortedLuns(): readonly { readonly lun: number; statsByNexus(): Iterable<[number, LuStat]> }[];
}

export function statHeader(): string {
  return 'tgt lun sid rd_subm(bytes,cmds) rd_done(bytes,cmds) wr_subm(bytes,cmds) wr_done(bytes,cmds) errs\n';
}

const pad = (n: number, w: number): string => String(n).padStart(w, ' ');

export function statLine(tid: number, lun: number, sid: number, s: LuStat): string {
  return (
    `${pad(tid, 3)} ${pad(lun, 3)} ${pad(sid, 3)} ` +
    `${pad(s.rdSubmBytes, 12)} ${pad(s.rdSubmCmds, 6)} ${pad(s.rdDoneBytes, 12)} ${pad(s.rdDoneCmds, 6)} ` +
    `${pad(s.wrSubmBytes, 12)} ${pad(s.wrSubmCmds, 6)} ${pad(s.wrDoneBytes, 12)} ${pad(s.wrDoneCmds, 6)} ` +
    `${pad(s.errs, 4)}\n`
  );
}

export function statLu(tid: number, lu: ReturnType<StatTarget['sortedLuns']>[number]): string {
  let s = '';
  for (const [sid, st] of lu.statsByNexus()) s += statLine(tid, lu.lun, sid, st);
  return s;
}

/** Each target's `--mode system --op stat` lines, in tid order (tgtd --workers joins the workers' lists). */
export function targetStatTexts(targets: ReadonlyMap<number, StatTarget>): [number, string][] {
  return [...targets.keys()].sort((a, b) => a - b).map((tid): [number, string] => [tid, statTarget(targets.get(tid)!)]);
}

export function statTarget(t: StatTarget): string {
  let s = '';
  for (const lu of t.sortedLuns()) s += statLu(t.tid, lu);
  return s;
}
