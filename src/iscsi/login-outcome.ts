// RFC 7143 11.13.5 Login Response Status-Class/Status-Detail as reason names, and the counts of login outcomes a driver keeps (tgtd --metrics).
import { LoginStatus } from './login.js';

/** Failure reasons by status (class << 8 | detail), named after RFC 7143's table in snake_case. */
const REASONS: ReadonlyMap<number, string> = new Map([
  [LoginStatus.TargetMovedTemporarily, 'target_moved_temporarily'],
  [LoginStatus.TargetMovedPermanently, 'target_moved_permanently'],
  [LoginStatus.InitiatorError, 'initiator_error'],
  [LoginStatus.AuthenticationFailure, 'authentication_failure'],
  [LoginStatus.AuthorizationFailure, 'authorization_failure'],
  [LoginStatus.NotFound, 'target_not_found'],
  [LoginStatus.TargetRemoved, 'target_removed'],
  [LoginStatus.UnsupportedVersion, 'unsupported_version'],
  [LoginStatus.TooManyConnections, 'too_many_connections'],
  [LoginStatus.MissingParameter, 'missing_parameter'],
  [LoginStatus.CantIncludeInSession, 'cant_include_in_session'],
  [LoginStatus.SessionTypeNotSupported, 'session_type_not_supported'],
  [LoginStatus.SessionDoesNotExist, 'session_does_not_exist'],
  [LoginStatus.InvalidDuringLogin, 'invalid_during_login'],
  [LoginStatus.TargetError, 'target_error'],
  [LoginStatus.ServiceUnavailable, 'service_unavailable'],
  [LoginStatus.OutOfResources, 'out_of_resources'],
]);

/** Every reason name, so a scrape shows each at 0 before it first happens (rate() needs the series). */
export const LOGIN_FAILURE_REASONS: readonly string[] = [...new Set(REASONS.values())];

/** The reason of a failed login's status; a detail the table lacks falls back to its class. */
export function loginFailureReason(status: number): string {
  const r = REASONS.get(status);
  if (r !== undefined) return r;
  const cls = status >> 8;
  return cls === 1 ? 'target_moved_temporarily' : cls === 2 ? 'initiator_error' : 'target_error';
}

/** A driver's figures for tgtd --metrics (the shape of lld/api.ts LldMetrics, which iscsi/ does not import). */
export interface DriverMetrics {
  readonly connections: ReadonlyMap<number, number>;
  readonly loginSuccesses: number;
  readonly loginFailures: ReadonlyMap<string, number>;
}

/** Login outcomes of one driver. */
export class LoginOutcomes {
  successes = 0;
  readonly failures = new Map<string, number>(LOGIN_FAILURE_REASONS.map((r) => [r, 0]));

  count(status: number): void {
    if (status === LoginStatus.Success) {
      this.successes++;
      return;
    }
    const r = loginFailureReason(status);
    this.failures.set(r, (this.failures.get(r) ?? 0) + 1);
  }
}
