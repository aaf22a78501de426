// The "bsg" backing store: SCSI passthrough with sg v4 headers on /dev/bsg/H:C:T:L (tgt's bsg_bst); the code is sg.ts's.
import { sgModule } from './sg.js';

export default sgModule('bsg');
