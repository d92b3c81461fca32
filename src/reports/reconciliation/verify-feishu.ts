import type { Deps } from '../../deps.js';
import type { LeaveRow } from './facts.js';
import { VERIFY_CONCURRENCY, type DriftItem } from './types.js';
import { mapLimit, Verifier } from './verifier.js';

/**
 * Compare Feishu's instance status with ours (feishu_status_mismatch), a page of leaves at a time
 * (`check` each page, then `finish`): one budget of failures for the whole report.
 */
export function feishuVerification(deps: Pick<Deps, 'feishu'>, emit: (item: DriftItem) => void): { check: (scope: LeaveRow[]) => Promise<void>; finish: () => void } {
  const feishu = deps.feishu;
  if (!feishu) {
    emit({
      category: 'verify_failed',
      instance_code: null,
      employee_id: null,
      detail: 'verify=feishu asked for, but the Feishu Open API is not configured',
      action: 'Set FEISHU_APP_ID and FEISHU_APP_SECRET.',
      severity: 'warning',
      data: { service: 'feishu' },
    });
    return { check: async () => {}, finish: () => {} };
  }
  const verifier = new Verifier('feishu', emit);
  const check = async (scope: LeaveRow[]) => {
    // CoreHR requests are not approval instances: the CoreHR sync reads their state from the leave API
    await mapLimit(scope.filter((l) => l.source !== 'corehr'), VERIFY_CONCURRENCY, async (leave) => {
      const got = await verifier.call(`reading approval instance ${leave.instanceCode}`, { instance_code: leave.instanceCode, employee_id: leave.employeeId }, () =>
        feishu.getInstance(leave.instanceCode),
      );
      if (!got.ok) return;
      const inst = got.value;
      // An approved-then-reverted instance keeps status APPROVED and sets `reverted` (approval
      // instance get API); CANCELED/DELETED/REJECTED never pay either.
      const feishuApproved = inst !== null && inst.status === 'APPROVED' && !inst.reverted;
      const ours = leave.status === 'approved';
      if (feishuApproved === ours) return;
      const theirs = inst === null ? 'no such instance' : `status ${inst.status}${inst.reverted ? ', reverted' : ''}`;
      emit({
        category: 'feishu_status_mismatch',
        instance_code: leave.instanceCode,
        employee_id: leave.employeeId,
        detail: `Feishu says ${theirs}; we have it ${leave.status}`,
        action: ours
          ? 'The revert never reached us: run `leave-bridge backfill` for this approval and period (or re-deliver the revert) so attendance and the calendar block are withdrawn.'
          : 'We have it reverted but Feishu shows it approved: check the instance in Feishu; if it was approved again, it needs a new approval instance (a reverted instance is never resurrected).',
        severity: 'error',
        data: { feishu_status: inst?.status ?? null, feishu_reverted: inst?.reverted ?? null, our_status: leave.status },
      });
    });
  };
  return { check, finish: () => verifier.finish() };
}
