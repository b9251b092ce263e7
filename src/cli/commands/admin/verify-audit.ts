// `coffer admin verify-audit`: checks every organisation's hash-chained audit trail. Exit 0 when
// intact; otherwise names the first altered, inserted or deleted event and exits 2.
import type { ChainReport } from '../../../domain/audit-verify.js';
import { ExitError } from '../../errors.js';
import { createUi } from '../../ui.js';
import { runAdminOperation } from './run-admin.js';

export interface VerifyOptions {
  org?: string;
  json?: boolean;
}

export async function verifyAuditCommand(options: VerifyOptions): Promise<void> {
  const ui = createUi({ json: options.json === true });
  const report = await runAdminOperation<ChainReport>('verify-audit', options.org ? { organisationId: options.org } : {});
  if (ui.json) ui.printJson({ intact: report.problem === undefined, ...report });
  const problem = report.problem;
  if (!problem) {
    if (!ui.json) ui.success(`The audit trail is intact: ${report.events} event(s) in ${report.organisations} organisation(s).`);
    return;
  }
  if (!ui.json) {
    const where = `organisation ${problem.organisationId}`;
    const text =
      problem.kind === 'altered'
        ? `event ${problem.seq} (${problem.eventId}) of ${where} was altered: its MAC does not match its content.`
        : problem.kind === 'inserted'
          ? `event ${problem.seq} (${problem.eventId}) of ${where} was inserted or re-chained: it does not follow event ${problem.seq - 1}.`
          : problem.kind === 'deleted'
            ? `event ${problem.seq} of ${where} was deleted: the trail jumps from ${problem.afterSeq} past it.`
            : problem.kind === 'truncated'
              ? `the trail of ${where} ends at event ${problem.seq}, but its head says ${problem.headSeq}: events were deleted from the end.`
              : `${where} has no chain head: it was removed, so its events cannot be checked.`;
    process.stderr.write(`coffer: the audit trail is NOT intact: ${text}\n`);
  }
  throw new ExitError(2);
}
