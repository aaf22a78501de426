// SPC-4 4.5 Sense data: the one table of failure reasons (key/ASC/ASCQ) and the fixed/descriptor builders.

/** SPC-4 4.5.6 Table 48 sense keys. */
export const SenseKey = {
  NoSense: 0x0,
  RecoveredError: 0x1,
  NotReady: 0x2,
  MediumError: 0x3,
  HardwareError: 0x4,
  IllegalRequest: 0x5,
  UnitAttention: 0x6,
  DataProtect: 0x7,
  BlankCheck: 0x8,
  CopyAborted: 0xa,
  AbortedCommand: 0xb,
  VolumeOverflow: 0xd,
  Miscompare: 0xe,
} as const;

/** A failure reason: sense key plus additional sense code / qualifier (SPC-4 Annex D). */
export interface SenseReason {
  readonly name: string;
  readonly key: number;
  readonly asc: number;
  readonly ascq: number;
}

function r(name: string, key: number, asc: number, ascq: number): SenseReason {
  return Object.freeze({ name, key, asc, ascq });
}

const K = SenseKey;

/** Every sense the engine can return, in one place (SPC-4 Annex D.2 for the codes). */
export const Reason = {
  // ILLEGAL REQUEST
  InvalidOpcode: r('INVALID COMMAND OPERATION CODE', K.IllegalRequest, 0x20, 0x00),
  LbaOutOfRange: r('LOGICAL BLOCK ADDRESS OUT OF RANGE', K.IllegalRequest, 0x21, 0x00),
  InvalidFieldInCdb: r('INVALID FIELD IN CDB', K.IllegalRequest, 0x24, 0x00),
  LunNotSupported: r('LOGICAL UNIT NOT SUPPORTED', K.IllegalRequest, 0x25, 0x00),
  InvalidFieldInParamList: r('INVALID FIELD IN PARAMETER LIST', K.IllegalRequest, 0x26, 0x00),
  ParamValueInvalid: r('PARAMETER VALUE INVALID', K.IllegalRequest, 0x26, 0x02),
  InvalidReleaseOfPr: r('INVALID RELEASE OF PERSISTENT RESERVATION', K.IllegalRequest, 0x26, 0x04),
  ParamListLengthError: r('PARAMETER LIST LENGTH ERROR', K.IllegalRequest, 0x1a, 0x00),
  InvalidFieldInIu: r('INVALID FIELD IN INFORMATION UNIT', K.IllegalRequest, 0x0e, 0x03),
  SavingParamsNotSupported: r('SAVING PARAMETERS NOT SUPPORTED', K.IllegalRequest, 0x39, 0x00),
  MediumRemovalPrevented: r('MEDIUM REMOVAL PREVENTED', K.IllegalRequest, 0x53, 0x02),
  InsufficientRegistrationResources: r('INSUFFICIENT REGISTRATION RESOURCES', K.IllegalRequest, 0x55, 0x04),
  // EXTENDED COPY parameter list checks (SPC-4 6.4)
  OperationInProgress: r('OPERATION IN PROGRESS', K.IllegalRequest, 0x00, 0x16),
  InsufficientResources: r('INSUFFICIENT RESOURCES', K.IllegalRequest, 0x55, 0x03),
  TooManyTargetDescriptors: r('TOO MANY TARGET DESCRIPTORS', K.IllegalRequest, 0x26, 0x06),
  UnsupportedTargetDescriptorType: r('UNSUPPORTED TARGET DESCRIPTOR TYPE CODE', K.IllegalRequest, 0x26, 0x07),
  TooManySegmentDescriptors: r('TOO MANY SEGMENT DESCRIPTORS', K.IllegalRequest, 0x26, 0x08),
  UnsupportedSegmentDescriptorType: r('UNSUPPORTED SEGMENT DESCRIPTOR TYPE CODE', K.IllegalRequest, 0x26, 0x09),
  InlineDataLengthExceeded: r('INLINE DATA LENGTH EXCEEDED', K.IllegalRequest, 0x26, 0x0b),
  // COPY ABORTED (SPC-4 6.4.5: a segment could not be processed; the sense key specific field is a segment pointer)
  CopyAborted: r('NO ADDITIONAL SENSE INFORMATION', K.CopyAborted, 0x00, 0x00),
  CopyTargetNotReachable: r('COPY TARGET DEVICE NOT REACHABLE', K.CopyAborted, 0x0d, 0x02),
  IncorrectCopyTargetType: r('INCORRECT COPY TARGET DEVICE TYPE', K.CopyAborted, 0x0d, 0x03),
  UnexpectedInexactSegment: r('UNEXPECTED INEXACT SEGMENT', K.CopyAborted, 0x26, 0x0a),
  CopyReadError: r('UNRECOVERED READ ERROR', K.CopyAborted, 0x11, 0x00),
  CopyWriteError: r('WRITE ERROR', K.CopyAborted, 0x0c, 0x00),
  CopyWriteProtected: r('WRITE PROTECTED', K.CopyAborted, 0x27, 0x00),
  CopySpaceAllocationFailed: r('SPACE ALLOCATION FAILED WRITE PROTECT', K.CopyAborted, 0x27, 0x07),
  /** A stream copy target had no room left for the data (its VOLUME OVERFLOW). */
  CopyEndOfMedium: r('END-OF-PARTITION/MEDIUM DETECTED', K.CopyAborted, 0x00, 0x02),
  // DATA PROTECT
  WriteProtected: r('WRITE PROTECTED', K.DataProtect, 0x27, 0x00),
  SpaceAllocationFailed: r('SPACE ALLOCATION FAILED WRITE PROTECT', K.DataProtect, 0x27, 0x07),
  // MEDIUM ERROR
  UnrecoveredReadError: r('UNRECOVERED READ ERROR', K.MediumError, 0x11, 0x00),
  WriteError: r('WRITE ERROR', K.MediumError, 0x0c, 0x00),
  // MISCOMPARE
  MiscompareDuringVerify: r('MISCOMPARE DURING VERIFY OPERATION', K.Miscompare, 0x1d, 0x00),
  // NOT READY
  NotReadyManualIntervention: r('LOGICAL UNIT NOT READY, MANUAL INTERVENTION REQUIRED', K.NotReady, 0x04, 0x03),
  SanitizeInProgress: r('LOGICAL UNIT NOT READY, SANITIZE IN PROGRESS', K.NotReady, 0x04, 0x1b),
  SanitizeFailed: r('SANITIZE COMMAND FAILED', K.MediumError, 0x31, 0x03),
  AluaTransitioning: r('LOGICAL UNIT NOT ACCESSIBLE, ASYMMETRIC ACCESS STATE TRANSITION', K.NotReady, 0x04, 0x0a),
  AluaStandby: r('LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN STANDBY STATE', K.NotReady, 0x04, 0x0b),
  AluaUnavailable: r('LOGICAL UNIT NOT ACCESSIBLE, TARGET PORT IN UNAVAILABLE STATE', K.NotReady, 0x04, 0x0c),
  NotReadyCauseNotReportable: r('LOGICAL UNIT NOT READY, CAUSE NOT REPORTABLE', K.NotReady, 0x04, 0x00),
  MediumNotPresent: r('MEDIUM NOT PRESENT', K.NotReady, 0x3a, 0x00),
  // HARDWARE / ABORTED
  InternalTargetFailure: r('INTERNAL TARGET FAILURE', K.HardwareError, 0x44, 0x00),
  /** SPC-5 Annex D: a passthrough device did not complete the command in time (the host aborted it). */
  CommandTimeoutDuringProcessing: r('COMMAND TIMEOUT DURING PROCESSING', K.AbortedCommand, 0x2e, 0x02),
  // UNIT ATTENTION (SAM-5 5.14, SPC-4 Annex D)
  PowerOnReset: r('POWER ON, RESET, OR BUS DEVICE RESET OCCURRED', K.UnitAttention, 0x29, 0x00),
  PowerOnOccurred: r('POWER ON OCCURRED', K.UnitAttention, 0x29, 0x01),
  BusDeviceReset: r('BUS DEVICE RESET FUNCTION OCCURRED', K.UnitAttention, 0x29, 0x03),
  ItNexusLossOccurred: r('I_T NEXUS LOSS OCCURRED', K.UnitAttention, 0x29, 0x07),
  ModeParametersChanged: r('MODE PARAMETERS CHANGED', K.UnitAttention, 0x2a, 0x01),
  ReservationsPreempted: r('RESERVATIONS PREEMPTED', K.UnitAttention, 0x2a, 0x03),
  ReservationsReleased: r('RESERVATIONS RELEASED', K.UnitAttention, 0x2a, 0x04),
  RegistrationsPreempted: r('REGISTRATIONS PREEMPTED', K.UnitAttention, 0x2a, 0x05),
  AsymmetricAccessStateChanged: r('ASYMMETRIC ACCESS STATE CHANGED', K.UnitAttention, 0x2a, 0x06),
  CapacityDataChanged: r('CAPACITY DATA HAS CHANGED', K.UnitAttention, 0x2a, 0x09),
  CommandsCleared: r('COMMANDS CLEARED BY ANOTHER INITIATOR', K.UnitAttention, 0x2f, 0x00),
  ReportedLunsChanged: r('REPORTED LUNS DATA HAS CHANGED', K.UnitAttention, 0x3f, 0x0e),
  InquiryDataChanged: r('INQUIRY DATA HAS CHANGED', K.UnitAttention, 0x3f, 0x03),
  // Sequential-access and media changer conditions (SSC-3 4.2, SMC-3; Annex D codes)
  NoAdditionalSense: r('NO ADDITIONAL SENSE INFORMATION', K.NoSense, 0x00, 0x00),
  FilemarkDetected: r('FILEMARK DETECTED', K.NoSense, 0x00, 0x01),
  EndOfMediumDetected: r('END-OF-PARTITION/MEDIUM DETECTED', K.NoSense, 0x00, 0x02),
  BeginningOfMediumDetected: r('BEGINNING-OF-PARTITION/MEDIUM DETECTED', K.NoSense, 0x00, 0x04),
  EndOfDataDetected: r('END-OF-DATA DETECTED', K.BlankCheck, 0x00, 0x05),
  VolumeOverflow: r('END-OF-PARTITION/MEDIUM DETECTED', K.VolumeOverflow, 0x00, 0x02),
  MediumFormatCorrupted: r('MEDIUM FORMAT CORRUPTED', K.MediumError, 0x31, 0x00),
  SequentialPositioningError: r('SEQUENTIAL POSITIONING ERROR', K.MediumError, 0x3b, 0x00),
  CleaningCartridgeInstalled: r('LOGICAL UNIT NOT READY, CLEANING CARTRIDGE INSTALLED', K.NotReady, 0x30, 0x03),
  IncompatibleMediumInstalled: r('INCOMPATIBLE MEDIUM INSTALLED', K.IllegalRequest, 0x30, 0x00),
  CannotWriteIncompatibleFormat: r('CANNOT WRITE MEDIUM, INCOMPATIBLE FORMAT', K.IllegalRequest, 0x30, 0x05),
  InvalidElementAddress: r('INVALID ELEMENT ADDRESS', K.IllegalRequest, 0x21, 0x01),
  MediumDestinationFull: r('MEDIUM DESTINATION ELEMENT FULL', K.IllegalRequest, 0x3b, 0x0d),
  MediumSourceEmpty: r('MEDIUM SOURCE ELEMENT EMPTY', K.IllegalRequest, 0x3b, 0x0e),
  MediumMagazineRemoved: r('MEDIUM MAGAZINE REMOVED', K.IllegalRequest, 0x3b, 0x12),
  MediumNotPresentTrayClosed: r('MEDIUM NOT PRESENT - TRAY CLOSED', K.NotReady, 0x3a, 0x01),
  MediumNotPresentTrayOpen: r('MEDIUM NOT PRESENT - TRAY OPEN', K.NotReady, 0x3a, 0x02),
  MediumMayHaveChanged: r('NOT READY TO READY CHANGE, MEDIUM MAY HAVE CHANGED', K.UnitAttention, 0x28, 0x00),
  ImportExportElementAccessed: r('IMPORT OR EXPORT ELEMENT ACCESSED', K.UnitAttention, 0x28, 0x01),
} as const;

/** Fixed format sense data length we emit (SPC-4 4.5.3: 18 bytes, additional length 10). */
export const FIXED_SENSE_LEN = 18;

/**
 * SPC-4 4.5.2.4.2 field pointer: which byte (and optionally which bit) of the CDB or parameter
 * list holds the invalid field. Encoded as `byte << 4 | (bit >= 0 ? 8 | bit : 0) | (cdb ? 0 : 0x100000)`
 * by `fieldPointer`, so a failing handler passes a number rather than building an object.
 */
export function fieldPointer(byte: number, bit = -1, inCdb = true): number {
  return ((byte & 0xffff) << 4) | (bit >= 0 ? 0x8 | (bit & 7) : 0) | (inCdb ? 0 : 0x100000);
}

/**
 * SPC-4 4.5.2.4.4 progress indication (SKSV=1, bytes 1..2 the fraction done of 65536), in the
 * encoding `buildSense` takes as its `field`: a field pointer with C/D=0 and no bit pointer has
 * exactly these bytes.
 */
export function progressIndication(done: number, total: number): number {
  const fraction = total > 0 ? Math.min(0xffff, Math.floor((done / total) * 0x10000)) : 0;
  return fieldPointer(fraction, -1, false);
}

/**
 * SPC-4 4.5.2.4.5 segment pointer (the sense key specific field of COPY ABORTED): SD=1, FIELD
 * POINTER = `byte` of the segment descriptor whose number is in the COMMAND-SPECIFIC INFORMATION.
 */
export function segmentPointer(byte: number, bit = -1): number {
  return fieldPointer(byte, bit, false) | 0x200000;
}

/** SENSE KEY SPECIFIC bytes 0..2 (SKSV, C/D or SD, BPV, BIT POINTER, FIELD POINTER) into `b` at `off`. */
function writeFieldPointer(b: Buffer, off: number, field: number): void {
  b[off] = 0x80 | ((field & 0x100000) === 0 ? 0x40 : 0) | ((field & 0x200000) !== 0 ? 0x20 : 0) | (field & 0xf);
  b.writeUInt16BE((field >> 4) & 0xffff, off + 1);
}

/**
 * Builds sense data for `reason`. `info` (when >= 0) goes into the INFORMATION field, e.g. the
 * miscompare offset for COMPARE AND WRITE (SBC-4 5.3) or VERIFY BYTCHK=1. `field` (when >= 0, from
 * `fieldPointer` or `segmentPointer`) fills the sense key specific field. `cmdInfo` (when >= 0)
 * goes into the COMMAND-SPECIFIC INFORMATION field (EXTENDED COPY: the failed segment's number).
 */
export function buildSense(reason: SenseReason, descriptor: boolean, info = -1, field = -1, cmdInfo = -1): Buffer {
  if (descriptor) {
    // SPC-4 4.5.2 descriptor format: 0 RESPONSE CODE 72h, 1 SENSE KEY, 2 ASC, 3 ASCQ, 7 ADDITIONAL SENSE LENGTH
    const withInfo = info >= 0;
    const withField = field >= 0;
    const withCmd = cmdInfo >= 0;
    const b = Buffer.alloc(8 + (withInfo ? 12 : 0) + (withField ? 8 : 0) + (withCmd ? 12 : 0));
    b[0] = 0x72;
    b[1] = reason.key;
    b[2] = reason.asc;
    b[3] = reason.ascq;
    b[7] = b.length - 8;
    if (withCmd) {
      // SPC-4 4.5.2.3 command-specific information descriptor: 0 TYPE 01h, 1 ADDITIONAL LENGTH 0Ah, 4..11 COMMAND-SPECIFIC INFORMATION
      const o = 8 + (withInfo ? 12 : 0);
      b[o] = 0x01;
      b[o + 1] = 0x0a;
      b.writeUInt32BE(Math.floor(cmdInfo / 0x100000000), o + 4);
      b.writeUInt32BE(cmdInfo >>> 0, o + 8);
    }
    if (withField) {
      // SPC-4 4.5.2.4 sense key specific descriptor: 0 TYPE 02h, 1 ADDITIONAL LENGTH 06h, 4..6 SENSE KEY SPECIFIC
      const o = b.length - 8;
      b[o] = 0x02;
      b[o + 1] = 0x06;
      writeFieldPointer(b, o + 4, field);
    }
    if (withInfo) {
      // SPC-4 4.5.2.2 Information descriptor: 0 TYPE 00h, 1 ADDITIONAL LENGTH 0Ah, 2 VALID bit, 4..11 INFORMATION
      b[8] = 0x00;
      b[9] = 0x0a;
      b[10] = 0x80;
      b.writeUInt32BE(Math.floor(info / 0x100000000), 12);
      b.writeUInt32BE(info >>> 0, 16);
    }
    return b;
  }
  // SPC-4 4.5.3 fixed format: 0 VALID|RESPONSE CODE 70h, 2 SENSE KEY, 3..6 INFORMATION,
  // 7 ADDITIONAL SENSE LENGTH, 12 ASC, 13 ASCQ
  const b = Buffer.alloc(FIXED_SENSE_LEN);
  b[0] = info >= 0 ? 0xf0 : 0x70;
  b[2] = reason.key;
  if (info >= 0) b.writeUInt32BE(info >>> 0, 3);
  b[7] = FIXED_SENSE_LEN - 8;
  if (cmdInfo >= 0) b.writeUInt32BE(cmdInfo >>> 0, 8); // 8..11 COMMAND-SPECIFIC INFORMATION
  b[12] = reason.asc;
  b[13] = reason.ascq;
  // 15..17 SENSE KEY SPECIFIC
  if (field >= 0) writeFieldPointer(b, 15, field);
  return b;
}
