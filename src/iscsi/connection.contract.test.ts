// The RFC 7143 connection contract (testing/contract.ts) run on the connection base through the capturing transport, whose data moves out of band (no R2T/Data-In PDUs, as over iSER).
import { connectionContract } from './testing/contract.js';
import { makeCaptureConnection } from './testing/capture-connection.js';

connectionContract(makeCaptureConnection, { name: 'connection contract (capturing transport)', dataPdus: false });
