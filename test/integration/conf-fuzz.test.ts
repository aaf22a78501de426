// targets.conf parsing never ends in a stack trace: 5,000 seeded mutated and generated configs through the parser and tgt-admin in-process, 40 through bin/tgt-admin against a real tgtd (test/fuzz/conf-fuzz.ts).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { TestDaemon } from '../helpers/daemon.js';
import { runConfFuzz } from '../fuzz/conf-fuzz.js';

const daemons: TestDaemon[] = [];
after(() => daemons.forEach((d) => d.kill()));

const CONFIGS = Number(process.env['STGT_CONF_FUZZ_CONFIGS'] ?? 5_000);
const SEED = Number(process.env['STGT_CONF_FUZZ_SEED'] ?? 0x7a29e75);

test(`${CONFIGS} fuzzed targets.conf files: a tree or a ConfigError, an exit status with words, never a throw`, { timeout: 240_000 }, async () => {
  const d = await TestDaemon.start();
  daemons.push(d);
  const { stats, failures } = await runConfFuzz({ seed: SEED, configs: CONFIGS, daemon: d });
  console.log(`# conf fuzz: ${JSON.stringify(stats)}`);
  assert.deepEqual(failures, []);
  assert.equal(stats.configs, CONFIGS);
  // Both outcomes are reached: the mutations neither always break nor never break the parser.
  assert.ok(stats.parsed > CONFIGS / 10 && stats.configErrors > CONFIGS / 50, JSON.stringify(stats));
  assert.ok((stats.adminExit[0] ?? 0) > CONFIGS / 10, 'tgt-admin hardly ever got through a config');
  await d.tgtadmOk('--mode', 'target', '--op', 'delete', '--force', '--tid', '1');
  await d.stop();
});
