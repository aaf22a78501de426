// Counting an iscsi-test-cu verbose log the way the project's issues count it (shared/tools/testcu-summary.py):
// a test that prints [FAILED] anywhere is failed, else one that prints [SKIPPED] is skipped, else passed.

export interface TestcuCount {
  passed: string[];
  failed: string[];
  skipped: string[];
}

export function countTestcuLog(log: string): TestcuCount {
  const out: TestcuCount = { passed: [], failed: [], skipped: [] };
  let suite = '';
  let name: string | null = null;
  let failed = false;
  let skipped = false;
  const flush = (): void => {
    if (name === null) return;
    const full = `${suite}.${name}`;
    if (failed) out.failed.push(full);
    else if (skipped) out.skipped.push(full);
    else out.passed.push(full);
    name = null;
  };
  for (const line of log.split('\n')) {
    const s = /^\s*Suite: (\S+)/.exec(line);
    if (s !== null) {
      flush();
      suite = s[1]!;
      continue;
    }
    let rest = line;
    const t = /^\s*Test: (\S+) \.\.\./.exec(line);
    if (t !== null) {
      flush();
      name = t[1]!;
      failed = skipped = false;
      rest = line.slice(t[0].length);
    }
    if (name === null) continue;
    // A CUnit verdict line "FAILED" counts too.
    if (rest.includes('[FAILED]') || rest.trim() === 'FAILED') failed = true;
    else if (rest.includes('[SKIPPED]')) skipped = true;
  }
  flush();
  return out;
}
