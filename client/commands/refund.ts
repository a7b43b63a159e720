/**
 * `refund request`: an operator records a person's refund application (退费申请); the ledger decides it with
 * the policy engine under the campaign's policy snapshot (ledger/refunds.ts). Operators only:
 * the command line refuses auditors and departments (client/commands/refund.ts), and the database grants refund_requests
 * to operators alone.
 */
import type { Command } from 'commander';
import { maskIdNumber } from '../../domain/id-number';
import { REFUND_REASON_NAMES, RefundReason, requestRefund, type RefundOutcome } from '../../ledger/refunds';
import { openLedger } from '../registry-commands';
import { allow, OPERATORS } from './access';

const yuan = (fen: number) => (fen / 100).toFixed(2);

/** The outcome for the operator, in Chinese with the plan's sentence; the ID number masked. */
export function formatRefund(idNumber: string, r: RefundOutcome): string {
  const head = `退费申请 ${r.requestKey}（#${r.requestId}）${r.replayed ? '，此前已登记，未重复办理' : ''}：${maskIdNumber(idNumber)}，事由 ${REFUND_REASON_NAMES[r.reason] ?? r.reason}`;
  const verdict =
    r.decision === 'refund'
      ? `准予退费 ${yuan(r.amountFen ?? 0)} 元（个人缴费 ${yuan(r.paidFen)} 元），退费数据《${r.refundFile?.fileName ?? '—'}》已发送税务局（交换日志 #${r.refundFile?.exchangeSeq ?? '—'}）`
      : r.decision === 'no-refund'
        ? '不予退费'
        : '政策未规定此情形，未办理退费';
  return [
    head,
    `  ${verdict}`,
    `  发生日 ${r.occurredOn}，待遇享受期起 ${r.benefitStart}；${r.rule.says}`,
    `  依据：${r.rule.source}`,
    `  政策快照 ${r.policyHash.slice(0, 12)}`,
    '',
  ].join('\n');
}

/** Registers `refund request` on the program. */
export function registerRefundCommands(program: Command): void {
  const refund = program.command('refund').description('refund applications (退费), operators only');
  allow(refund.command('request'), OPERATORS)
    .description(
      'record a refund application and have the plan decide it (death, duplicate payment, move to employee insurance, duplicate enrollment elsewhere)',
    )
    .requiredOption('--id <idNumber>', 'the national ID number of the person who paid')
    .requiredOption('--reason <reason>', RefundReason.options.join(' | '))
    .requiredOption('--occurred-on <date>', 'the day it happened, YYYY-MM-DD (the plans judge on it)')
    .requiredOption(
      '--key <requestKey>',
      'the application’s own key (its form number): asking again records it once',
    )
    .requiredOption('--jurisdiction <j>', 'e.g. kaiping')
    .requiredOption('--year <y>', 'the campaign year the payment was for', (v) => Number(v))
    .option('--requested-on <date>', 'the day of the application (default today, China time)')
    .option('--json', 'print JSON')
    .action(
      async (o: {
        id: string;
        reason: string;
        occurredOn: string;
        key: string;
        jurisdiction: string;
        year: number;
        requestedOn?: string;
        json?: boolean;
      }) => {
        const { pool, exchangeDir } = await openLedger();
        try {
          const r = await requestRefund(pool, exchangeDir, {
            jurisdiction: o.jurisdiction,
            year: o.year,
            idNumber: o.id,
            reason: o.reason as RefundReason,
            occurredOn: o.occurredOn,
            requestKey: o.key,
            ...(o.requestedOn ? { requestedOn: o.requestedOn } : {}),
          });
          process.stdout.write(o.json ? `${JSON.stringify(r, null, 2)}\n` : formatRefund(o.id, r));
        } finally {
          await pool.end();
        }
      },
    );
}
