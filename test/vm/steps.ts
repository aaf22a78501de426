// Parser for the "STEP <name> ok|FAILED <ms>ms" lines the guest scripts print (test/vm/guest/iscsi-lib.sh)

export interface GuestStep {
  name: string;
  ok: boolean;
  ms: number;
}

const STEP_LINE = /^STEP (\S+) (ok|FAILED) (\d+)ms/;

export function parseSteps(stdout: string): GuestStep[] {
  const steps: GuestStep[] = [];
  for (const line of stdout.split('\n')) {
    const m = STEP_LINE.exec(line);
    if (m) steps.push({ name: m[1]!, ok: m[2] === 'ok', ms: Number(m[3]) });
  }
  return steps;
}

/** What a guest run returned (harness.ts GuestResult), as far as the step check reads it. */
interface GuestRun {
  code: number | null;
  stdout: string;
  stderr: string;
  consoleLog: string;
  accel: string;
  bootMs: number;
  totalMs: number;
}

/**
 * Checks that every step of a guest run passed, in order (`names`), and returns the explanation
 * used in the assertions (output tails, the console log's path, the target's log tail) for the
 * test's own further checks.
 */
export function expectSteps(
  t: { diagnostic(msg: string): void },
  r: GuestRun,
  names: readonly string[],
  targetLog: string,
  check: { equal(a: unknown, b: unknown, msg?: string): void; deepEqual(a: unknown, b: unknown, msg?: string): void },
): string {
  const explain = `guest exit ${r.code}\n--- stdout:\n${r.stdout.slice(-4000)}\n--- stderr (tail):\n${r.stderr.slice(-6000)}` +
    `\n--- console log: ${r.consoleLog}\n--- tgtd output (tail):\n${targetLog.slice(-3000)}`;
  const steps = parseSteps(r.stdout);
  t.diagnostic(`${r.accel}: boot ${r.bootMs} ms, total ${r.totalMs} ms; ` + steps.map((s) => `${s.name} ${s.ms}ms`).join(', '));
  const failed = steps.find((s) => !s.ok);
  check.equal(failed, undefined, `step ${failed?.name} failed\n${explain}`);
  check.deepEqual(steps.map((s) => s.name), names, `not every step ran\n${explain}`);
  check.equal(r.code, 0, explain);
  return explain;
}
