/**
 * The key of a jurisdiction-year's policy snapshot in the ledger (campaign_policies.policy_hash): what a
 * campaign, its snapshot and its audit trail all name. Not for workflow code (node:crypto is outside the
 * workflow sandbox: a workflow is handed the hash).
 */
import { createHash } from 'node:crypto';
import type { Policy } from '../domain/policy';

/**
 * sha256 (64 lowercase hex digits) of the policy as JSON with sorted keys: the same policy always has the
 * same hash, whatever order its seed file gives the keys in.
 */
export function policyHash(policy: Policy): string {
  const canonical = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(canonical)
      : v && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .sort()
              .map((k) => [k, canonical((v as Record<string, unknown>)[k])]),
          )
        : v;
  return createHash('sha256')
    .update(JSON.stringify(canonical(policy)))
    .digest('hex');
}
