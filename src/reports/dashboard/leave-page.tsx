import type { getLeave } from '../../leave/queries.js';
import { fromMicro, toMicro } from '../../shared/decimal.js';
import { HistoryTable } from './history-table.js';
import { Layout } from './layout.js';

type LeaveDetail = NonNullable<Awaited<ReturnType<typeof getLeave>>>;

/** A small page per leave, for the links of the drift table. */
/** Where a record comes from, as people call the Feishu apps. */
export const SOURCE_NAMES: Record<string, string> = { approval: 'Feishu Approval', corehr: 'Feishu People (CoreHR)' };
/** CoreHR's paid_type (https://open.feishu.cn/document/server-docs/corehr-v1/leave/leave_request_history). */
const PAID_TYPES: Record<number, string> = { 1: '1 · not in payroll', 2: '2 · affects pay', 3: '3 · does not affect pay' };

export function LeavePage(props: { leave: LeaveDetail; back: string }) {
  const l = props.leave;
  const total = l.days.reduce((acc, d) => acc + toMicro(d.quantity), 0n);
  // CoreHR gives each date a paid_type; Approval records have none
  const paid = l.days.some((d) => d.paid_type !== undefined);
  return (
    <Layout
      title={`${l.instance_code} · leave-bridge`}
      header={
        <header class="top">
          <div class="wrap bar">
            <h1>
              leave-bridge <span>· leave {l.instance_code}</span>
            </h1>
            <nav class="nav">
              <a href={props.back}>← dashboard</a>
              <a href={`/api/leaves/${encodeURIComponent(l.instance_code)}`}>JSON</a>
            </nav>
          </div>
        </header>
      }
    >
      <main class="wrap">
        <section class="panel">
          <h2>
            {l.leave_type ?? 'Leave'} <span class={`badge ${l.status === 'approved' ? 'ok' : 'warning'}`}>{l.status}</span>
          </h2>
          <dl class="facts" data-testid="leave-facts">
            <dt>Instance</dt>
            <dd class="mono">{l.instance_code}</dd>
            <dt>Source</dt>
            <dd data-testid="leave-source">{SOURCE_NAMES[l.source] ?? l.source}</dd>
            <dt>Employee</dt>
            <dd class="mono">
              {l.employee_id ?? '—'} {l.email ? `· ${l.email}` : '· no email'}
            </dd>
            <dt>When (local)</dt>
            <dd>
              {l.start ?? '?'} → {l.end ?? '?'} ({l.timezone ?? 'default zone'})
            </dd>
            <dt>Unit / interval</dt>
            <dd>
              {l.unit ?? '?'} · {l.interval_seconds ?? '?'} s · days add up to {fromMicro(total)} {l.days[0]?.unit ?? ''}
            </dd>
            <dt>Received</dt>
            <dd>
              V1 {l.received.v1 ? 'yes' : 'no'} · V2 {l.received.v2 ? 'yes' : 'no'} · detail from {l.detail_source ?? '—'}
            </dd>
            <dt>Calendar</dt>
            <dd>
              {l.calendar.state}
              {l.calendar.event_type ? ` · ${l.calendar.event_type}` : ''}
              {l.calendar.calendar_id ? ` · ${l.calendar.calendar_id}` : ''}
              {l.calendar.pending ? ' · change pending' : ''}
              {l.calendar.fallback_reason ? ` · fallback: ${l.calendar.fallback_reason}` : ''}
            </dd>
          </dl>
        </section>
        <div class="grid2">
          <section class="panel">
            <h2>Attendance days</h2>
            {l.days.length ? (
              <table>
                <thead>
                  <tr>
                    <th>Date</th>
                    <th>Quantity</th>
                    {paid ? <th>Paid type</th> : null}
                  </tr>
                </thead>
                <tbody>
                  {l.days.map((d) => (
                    <tr>
                      <td>{d.date}</td>
                      <td class="num">
                        {d.quantity} {d.unit}
                      </td>
                      {paid ? <td>{d.paid_type === undefined ? '—' : (PAID_TYPES[d.paid_type] ?? String(d.paid_type))}</td> : null}
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="empty">No active days.</p>
            )}
          </section>
          <section class="panel">
            <h2>History</h2>
            <HistoryTable history={l.history} outbox={l.outbox} />
          </section>
        </div>
      </main>
    </Layout>
  );
}
