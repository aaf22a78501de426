// The RFC 7143 connection contract (iscsi/testing/contract.ts) run over the TCP framer and a fake socket.
import { connectionContract } from '../../iscsi/testing/contract.js';
import { makeTcpConnection } from './testing/fake-socket.js';

connectionContract(makeTcpConnection, { name: 'connection contract (TCP framer over a fake socket)' });
