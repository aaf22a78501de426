// Tests for login outcome counting (login-outcome.ts): RFC 7143 11.13.5 statuses to reason names.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LOGIN_FAILURE_REASONS, LoginOutcomes, loginFailureReason } from './login-outcome.js';
import { LoginStatus } from './login.js';

test('statuses map to their reason; unknown details fall back to their class', () => {
  assert.equal(loginFailureReason(LoginStatus.AuthenticationFailure), 'authentication_failure');
  assert.equal(loginFailureReason(LoginStatus.NotFound), 'target_not_found');
  assert.equal(loginFailureReason(0x02ff), 'initiator_error');
  assert.equal(loginFailureReason(0x03ff), 'target_error');
  assert.equal(new Set(LOGIN_FAILURE_REASONS).size, 17);
});

test('LoginOutcomes counts successes apart and starts every reason at 0', () => {
  const o = new LoginOutcomes();
  assert.equal(o.failures.size, LOGIN_FAILURE_REASONS.length);
  for (const n of o.failures.values()) assert.equal(n, 0);
  o.count(LoginStatus.Success);
  o.count(LoginStatus.AuthorizationFailure);
  o.count(LoginStatus.AuthorizationFailure);
  assert.equal(o.successes, 1);
  assert.equal(o.failures.get('authorization_failure'), 2);
});
