// tgtadm as an ES module (src/cli/tgtadm-client.ts is the client); run directly (`node dist/src/cli/tgtadm.js ARGS`) it is tgtadm.
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { main } from './tgtadm-client.js';

export * from './tgtadm-client.js';

function isMain(): boolean {
  const a = process.argv[1];
  if (a === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(a)).href;
  } catch {
    return false;
  }
}

if (isMain()) void main();
