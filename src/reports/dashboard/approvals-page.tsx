import type { getApproval, listApprovals } from '../../leave/approvals.js';
import { APPROVAL_KINDS } from '../../leave/types.js';
import { HistoryTable, time } from './history-table.js';
import { SOURCE_NAMES } from './leave-page.js';
import { Layout } from './layout.js';

type ApprovalDetail = NonNullable<Awaited<ReturnType<typeof getApproval>>>;
type ApprovalItem = Awaited<ReturnType<typeof listApprovals>>[number];

export const approvalLink = (code: string) => `/dashboard/approvals/${encodeURIComponent(code)}`;
const STATUSES = ['pending', 'approved', 'rejected', 'reverted'] as const;
const tone = (status: string) => (status === 'approved' ? 'ok' : status === 'pending' ? 'info' : 'warning');

function Top(props: { title: string; json: string; back: string }) {
  return (
    <header class="top">
      <div class="wrap bar">
        <h1>
          leave-bridge <span>· {props.title}</span>
        </h1>
        <nav class="nav">
          <a href={props.back}>← back</a>
          <a href={props.json}>JSON</a>
        </nav>
      </div>
    </header>
  );
}

/** Every kind of approval, filtered by kind and status (GET /dashboard/approvals). */
export function ApprovalsPage(props: { items: ApprovalItem[]; kind?: string; status?: string }) {
  const query = new URLSearchParams();
  if (props.kind) query.set('kind', props.kind);
  if (props.status) query.set('status', props.status);
  return (
    <Layout title="approvals · leave-bridge" header={<Top title="approvals" back="/dashboard" json={`/api/approvals?${query.toString()}`} />}>
      <main class="wrap">
        <section class="panel">
          <form class="period" method="get" action="/dashboard/approvals" data-testid="approval-filter">
            <label>
              Kind{' '}
              <select name="kind">
                <option value="">every kind</option>
                {APPROVAL_KINDS.map((k) => (
                  <option value={k} selected={k === props.kind}>
                    {k}
                  </option>
                ))}
              </select>
            </label>
            <label>
              Status{' '}
              <select name="status">
                <option value="">any status</option>
                {STATUSES.map((s) => (
                  <option value={s} selected={s === props.status}>
                    {s}
                  </option>
                ))}
              </select>
            </label>
            <button type="submit">Show</button>
          </form>
          {props.items.length ? (
            <table data-testid="approvals">
              <thead>
                <tr>
                  <th>Instance</th>
                  <th>Kind</th>
                  <th>Source</th>
                  <th>Status</th>
                  <th>Employee</th>
                  <th>When (local)</th>
                  <th>Type</th>
                </tr>
              </thead>
              <tbody>
                {props.items.map((a) => (
                  <tr data-kind={a.kind ?? ''}>
                    <td class="mono">
                      <a href={approvalLink(a.instance_code)}>{a.instance_code}</a>
                    </td>
                    <td>{a.kind ?? '—'}</td>
                    <td data-source={a.source}>{SOURCE_NAMES[a.source] ?? a.source}</td>
                    <td>
                      <span class={`badge ${tone(a.status)}`}>{a.status}</span>
                    </td>
                    <td class="mono">
                      {a.employee_id ?? '—'}
                      {a.peers.length ? ` + ${a.peers.join(', ')}` : ''}
                    </td>
                    <td class="nowrap">
                      {a.start ?? '—'} → {a.end ?? '—'}
                    </td>
                    <td>{a.type_name ?? '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          ) : (
            <p class="empty">No approvals match.</p>
          )}
        </section>
      </main>
    </Layout>
  );
}

/** One record of any kind: its facts, days, calendar blocks, approval timeline and history. */
export function ApprovalPage(props: { approval: ApprovalDetail; back: string }) {
  const a = props.approval;
  return (
    <Layout
      title={`${a.instance_code} · leave-bridge`}
      header={<Top title={`${a.kind ?? 'approval'} ${a.instance_code}`} back={props.back} json={`/api/approvals/${encodeURIComponent(a.instance_code)}`} />}
    >
      <main class="wrap">
        <section class="panel">
          <h2>
            {a.type_name ?? a.kind ?? 'Approval'} <span class={`badge ${tone(a.status)}`}>{a.status}</span>
          </h2>
          <dl class="facts" data-testid="approval-facts">
            <dt>Kind</dt>
            <dd>{a.kind ?? 'not known yet'}</dd>
            <dt>Source</dt>
            <dd data-testid="approval-source">{SOURCE_NAMES[a.source] ?? a.source}</dd>
            <dt>Employee</dt>
            <dd class="mono">
              {a.employee_id ?? '—'}
              {a.peers.length ? ` · travelling with ${a.peers.join(', ')}` : ''}
            </dd>
            <dt>When (local)</dt>
            <dd>
              {a.start ?? '?'} → {a.end ?? '?'} ({a.timezone ?? 'default zone'})
            </dd>
            <dt>Detail from</dt>
            <dd>{a.detail_source ?? '—'}</dd>
          </dl>
        </section>
        <div class="grid2">
          <section class="panel">
            <h2>Approval timeline</h2>
            {a.tasks.length ? (
              <table data-testid="timeline">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Task</th>
                    <th>Approver</th>
                    <th>Status</th>
                  </tr>
                </thead>
                <tbody>
                  {a.tasks.map((t) => (
                    <tr>
                      <td class="nowrap">{time(t.operate_time)}</td>
                      <td class="mono">{t.task_id}</td>
                      <td class="mono">{t.user_id || t.open_id || 'automatic'}</td>
                      <td>{t.status}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="empty">No approval tasks received.</p>
            )}
          </section>
          <section class="panel">
            <h2>Days</h2>
            {a.days.length ? (
              <table>
                <thead>
                  <tr>
                    <th>Employee</th>
                    <th>Date</th>
                    <th>Quantity</th>
                  </tr>
                </thead>
                <tbody>
                  {a.days.map((d) => (
                    <tr>
                      <td class="mono">{d.employee_id}</td>
                      <td>{d.date}</td>
                      <td class="num">
                        {d.quantity} {d.unit}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="empty">No active days.</p>
            )}
          </section>
        </div>
        <div class="grid2">
          <section class="panel">
            <h2>Calendar</h2>
            {a.calendar.blocks.length ? (
              <table data-testid="blocks">
                <thead>
                  <tr>
                    <th>Block</th>
                    <th>Calendar</th>
                    <th>State</th>
                  </tr>
                </thead>
                <tbody>
                  {a.calendar.blocks.map((b) => (
                    <tr>
                      <td class="mono">{b.block_key || 'the block'}</td>
                      <td class="mono">{b.calendar_id}</td>
                      <td>
                        {b.state} · {b.event_type}
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            ) : (
              <p class="empty">No calendar blocks{a.calendar.pending ? ' yet: a change is pending' : ''}.</p>
            )}
          </section>
          <section class="panel">
            <h2>History</h2>
            <HistoryTable history={a.history} outbox={a.outbox} />
          </section>
        </div>
      </main>
    </Layout>
  );
}
