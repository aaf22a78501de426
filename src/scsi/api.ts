// SCSI engine contract for transports (SAM-5 4.x execute command / task management): what an LLD sees.
//
// A transport fills a ScsiTask (pooled by the transport, reused across commands), calls
// `target.execute(task, done)`; the engine fills status/sense/dataIn/transferLength and calls
// `done(task)` exactly once, possibly synchronously. No exception ever escapes `execute`.

/** SAM-5 task attribute, numbered as in the iSCSI SCSI Command PDU ATTR field (RFC 7143 11.3.1). */
export const TaskAttr = { Untagged: 0, Simple: 1, Ordered: 2, HeadOfQueue: 3, Aca: 4 } as const;
export type TaskAttr = (typeof TaskAttr)[keyof typeof TaskAttr];

/** SAM status codes. */
export const Status = {
  Good: 0x00,
  CheckCondition: 0x02,
  ConditionMet: 0x04,
  Busy: 0x08,
  ReservationConflict: 0x18,
  TaskSetFull: 0x28,
  AcaActive: 0x30,
  TaskAborted: 0x40,
} as const;

/** Data direction of a command as the transport saw it (iSCSI R/W bits). */
export const DataDir = { None: 0, Write: 1, Read: 2, Bidi: 3 } as const;
export type DataDir = (typeof DataDir)[keyof typeof DataDir];

/** One I_T nexus: an initiator port logged in to a target port (an iSCSI session). */
export interface ItNexus {
  /** Nexus id, unique per target; for iSCSI the TSIH. Shown as "I_T nexus: N". */
  readonly id: number;
  /** Initiator name (iSCSI InitiatorName). */
  readonly initiatorName: string;
  /** SPC-4 TransportID string of the initiator port: "<name>,i,0x<isid>". Used by reservations. */
  readonly initiatorPort: string;
  /**
   * The target-side address and port the nexus came in on (iSCSI: its leading connection's), which
   * decide its ALUA target port group (alua.ts); absent for a transport without addresses.
   */
  readonly localAddress?: string;
  readonly localPort?: number;
}

export interface ScsiTask {
  // --- set by the transport
  nexus: ItNexus;
  /** LUN number decoded from the 8-byte LUN field (SAM-5 4.7, peripheral/flat addressing). */
  lun: number;
  /** The CDB (16 bytes from the BHS, longer with an extended-CDB AHS); a view, valid until done. */
  cdb: Buffer;
  attr: TaskAttr;
  /** Initiator task tag. */
  tag: number;
  dir: DataDir;
  /** Expected data transfer length from the initiator (write length for Write/Bidi, read length for Read). */
  expectedLength: number;
  /** Expected read length for bidirectional commands (Bidirectional Read Expected Data Transfer Length AHS). */
  expectedReadLength: number;
  /** Data-Out received, in order; total length <= expectedLength. Empty for reads. */
  dataOut: Buffer[];
  /** Total bytes in dataOut. */
  dataOutLength: number;
  /**
   * Memory the read data should land in (registered RDMA memory, a pooled buffer), or null. When a
   * media read fits in it, the backing store reads straight into it and `dataIn` is a view of it;
   * otherwise (no buffer, a command longer than it, parameter data) the engine allocates.
   */
  readBuffer: Buffer | null;

  // --- set by the engine
  status: number;
  /** Fixed or descriptor format sense data, or null. */
  sense: Buffer | null;
  /** Data-In (read data). May be longer than expectedLength: the transport clips it and reports overflow. */
  dataIn: Buffer | null;
  /** Bytes the CDB itself asks to transfer (for residual computation); -1 if the CDB implies none is checked. */
  transferLength: number;
  /** Set by task management when the task was aborted; the transport sends no response for it. */
  aborted: boolean;
  /**
   * Set by the engine when the command hands its Data-Out only to the backing store's write (a
   * media WRITE), which lets go of the buffers at its callback: once the command is finished no view
   * of them is kept, and the transport may reuse that memory (lld/iscsi rx-arena.ts). Otherwise
   * (parameter data, a handler that may keep a view) it stays false and the memory is left to the GC.
   */
  dataOutTransient?: boolean;
}

/** Task management functions (RFC 7143 11.5.1 numbering). */
export const Tmf = {
  AbortTask: 1,
  AbortTaskSet: 2,
  ClearAca: 3,
  ClearTaskSet: 4,
  LogicalUnitReset: 5,
  TargetWarmReset: 6,
  TargetColdReset: 7,
  TaskReassign: 8,
  /** RFC 7144 4.2 (SAM-5 7.8-7.11): the task management functions SAM-3..5 added. */
  QueryTask: 9,
  QueryTaskSet: 10,
  ItNexusReset: 11,
  QueryAsyncEvent: 12,
} as const;
export type Tmf = (typeof Tmf)[keyof typeof Tmf];

/** Task management responses (RFC 7143 11.6.1 numbering). */
export const TmfResponse = {
  Complete: 0,
  TaskDoesNotExist: 1,
  LunDoesNotExist: 2,
  TaskStillAllegiant: 3,
  ReassignmentNotSupported: 4,
  NotSupported: 5,
  AuthorizationFailed: 6,
  /** RFC 7144: SAM-5's FUNCTION SUCCEEDED (a QUERY found what it asked about). */
  FunctionSucceeded: 7,
  Rejected: 255,
} as const;
export type TmfResponse = (typeof TmfResponse)[keyof typeof TmfResponse];

/** What a transport needs from a target. */
export interface ScsiTargetPort {
  readonly tid: number;
  readonly name: string;
  /** Register a new I_T nexus (after login). Sets a POWER ON/RESET unit attention for it on every LU. */
  addNexus(nexus: ItNexus): void;
  /** The nexus is gone (session closed): drop its unit attentions, abort its tasks, keep PR registrations. */
  removeNexus(nexus: ItNexus): void;
  execute(task: ScsiTask, done: (task: ScsiTask) => void): void;
  taskMgmt(
    nexus: ItNexus,
    fn: Tmf,
    lun: number,
    refTag: number,
    /**
     * `info`: SAM-5 7.11 ADDITIONAL RESPONSE INFORMATION of a QUERY ASYNCHRONOUS EVENT that
     * succeeded, as a 24-bit number: byte 0 reserved(7:6) UADE DEPTH(5:4) SENSE KEY(3:0), byte 1
     * ADDITIONAL SENSE CODE, byte 2 ADDITIONAL SENSE CODE QUALIFIER. iSCSI carries it in bytes
     * 8..10 of the TMF Response (RFC 7144).
     */
    done: (response: TmfResponse, aborted: readonly ScsiTask[], info?: number) => void,
  ): void;
}
