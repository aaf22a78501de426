// Test helper: runs stgt's compiled tgt-admin as a program (what bin/tgt-admin does, but from any outDir).
import { main } from '../../src/cli/tgt-admin.js';

await main();
