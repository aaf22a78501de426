// Counting an iscsi-test-cu verbose log the way the project's issues count it (shared/tools/testcu-summary.py):
// a test that prints [FAILED] anywhere is failed, else one that prints [SKIPPED] is skipped, else passed;
// the tests in BY_CUNIT_VERDICT are failed only when CUnit itself ends them in FAILED.
//
// CUnit prints a test's verdict ("passed" / "FAILED") when the test returns; what libiscsi prints
// after the verdict of a suite's last test comes from its suite_cleanup (iscsi-test-cu.c: clear_pr
// on every path, PERSISTENT RESERVE IN READ KEYS without a unit attention retry), yet the counting
// rule charges it to that test. `afterVerdict` lists the failed tests whose only [FAILED] lines
// came after their verdict, so a known failure of that kind cannot hide a real one.

/** Tests whose [FAILED] lines are expected (the commands they send must fail): judged by CUnit's verdict. */
export const BY_CUNIT_VERDICT = new Set(['iSCSIdatasn.iSCSIDataSnInvalid']);

export interface TestcuCount {
  passed: string[];
  failed: string[];
  skipped: string[];
  /** Failed tests whose every [FAILED] line was printed after CUnit's "passed" verdict (suite cleanup). */
  afterVerdict: string[];
  /** Tests CUnit itself ended in FAILED (an assertion of the test failed). */
  cunitFailed: string[];
}

export function countTestcuLog(log: string): TestcuCount {
  const out: TestcuCount = { passed: [], failed: [], skipped: [], afterVerdict: [], cunitFailed: [] };
  let suite = '';
  let name: string | null = null;
  let failedIn = false;
  let failedAfter = false;
  let skipped = false;
  let cunitFailed = false;
  let verdict = false;
  const flush = (): void => {
    if (name === null) return;
    const full = `${suite}.${name}`;
    const failed = BY_CUNIT_VERDICT.has(full) ? cunitFailed : failedIn || failedAfter;
    if (cunitFailed) out.cunitFailed.push(full);
    if (failed) {
      out.failed.push(full);
      if (!BY_CUNIT_VERDICT.has(full) && !failedIn && !cunitFailed) out.afterVerdict.push(full);
    } else if (skipped && !BY_CUNIT_VERDICT.has(full)) out.skipped.push(full);
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
      failedIn = failedAfter = skipped = cunitFailed = verdict = false;
      rest = line.slice(t[0].length);
    }
    if (name === null) continue;
    // CUnit's verdict: "passed" or "FAILED" at the start of a line (or right after "Test: x ...").
    const v = /^\s*(passed|FAILED)\b/.exec(rest);
    if (v !== null && !verdict) {
      verdict = true;
      if (v[1] === 'FAILED') cunitFailed = failedIn = true;
      rest = rest.slice(v[0].length);
    } else if (rest.trim() === 'FAILED') cunitFailed = true;
    if (rest.includes('[FAILED]') || rest.trim() === 'FAILED') {
      if (verdict && !cunitFailed) failedAfter = true;
      else failedIn = true;
    } else if (rest.includes('[SKIPPED]')) skipped = true;
  }
  flush();
  return out;
}
