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
