// The RFC 7143 connection contract (testing/contract.ts) run on the connection base through the capturing transport.
import { connectionContract } from './testing/contract.js';
import { makeCaptureConnection } from './testing/capture-connection.js';

connectionContract(makeCaptureConnection, { name: 'connection contract (capturing transport)' });
