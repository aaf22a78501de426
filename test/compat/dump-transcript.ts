// Developer tool: records the compat transcript one way and prints it (node dump-transcript.js debian|stgt debian|stgt; tgt-compat.md §1.8).
import { startDaemon } from './daemons.js';
import { recordTranscript, render } from './transcript.js';

const [client, daemon] = process.argv.slice(2) as ['debian' | 'stgt', 'debian' | 'stgt'];
const d = await startDaemon(daemon);
try {
  const t = await recordTranscript(client, d);
  process.stdout.write(render(t.entries));
  process.stdout.write(`STORES ${JSON.stringify(t.stores[0])}\nTYPES ${JSON.stringify(t.deviceTypes[0])}\n`);
} finally {
  await d.stop();
}
