import type { listAudit } from '../../auth/audit.js';
import { Layout } from './layout.js';
import { SessionBar, type SessionView } from './session-bar.js';

type AuditPageData = Awaited<ReturnType<typeof listAudit>>;

export interface AuditPageFilter {
  action?: string;
  actor?: string;
  outcome?: string;
}

const whoOf = (a: AuditPageData['items'][number]['actor']) =>
  a.kind === 'feishu' ? `${a.name ?? a.id ?? '?'}${a.name && a.id ? ` (${a.id})` : ''}` : a.kind;

/** The audit log: who did what to the admin surface, newest first, a page at a time. */
export function AuditPage(props: { data: AuditPageData; filter: AuditPageFilter; session: SessionView }) {
  const { data, filter } = props;
  const older = new URLSearchParams(Object.entries(filter).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''));
  if (data.next_before !== null) older.set('before', String(data.next_before));
  return (
    <Layout
      title="Audit log · leave-bridge"
      header={
        <header class="top">
          <div class="wrap bar">
            <h1>
              leave-bridge <span>· audit log</span>
            </h1>
            <nav class="nav">
              <a href="/dashboard">← dashboard</a>
              <a href="/api/audit">JSON</a>
            </nav>
            <SessionBar session={props.session} />
          </div>
        </header>
      }
    >
      <main class="wrap">
        <section class="panel">
          <form class="filters" method="get" action="/dashboard/audit">
            <label>
              Action <input name="action" value={filter.action ?? ''} placeholder="e.g. sign_in_failed" />
            </label>
            <label>
              Who <input name="actor" value={filter.actor ?? ''} placeholder="Feishu user id, token or anonymous" />
            </label>
            <label>
              Outcome{' '}
              <select name="outcome">
                <option value="" selected={!filter.outcome}>
                  any
                </option>
                <option value="ok" selected={filter.outcome === 'ok'}>
                  ok
                </option>
                <option value="failed" selected={filter.outcome === 'failed'}>
                  failed
                </option>
              </select>
            </label>
            <button type="submit">Filter</button>
          </form>
          {data.items.length === 0 ? (
            <p class="empty">Nothing recorded{filter.action || filter.actor || filter.outcome ? ' that matches' : ''}.</p>
          ) : (
            <div class="scroll">
              <table data-testid="audit-table">
                <thead>
                  <tr>
                    <th>When (UTC)</th>
                    <th>Who</th>
                    <th>Action</th>
                    <th>Target</th>
                    <th>Outcome</th>
                    <th>From</th>
                    <th>Detail</th>
                  </tr>
                </thead>
                <tbody>
                  {data.items.map((e) => (
                    <tr class="audit-row" data-action={e.action} data-outcome={e.outcome}>
                      <td class="nowrap">{e.at.toISOString().replace('T', ' ').slice(0, 19)}</td>
                      <td>{whoOf(e.actor)}</td>
                      <td class="cat">{e.action}</td>
                      <td class="mono">{e.target ?? ''}</td>
                      <td>
                        <span class={`badge ${e.outcome === 'ok' ? 'ok' : 'error'}`}>{e.outcome}</span>
                      </td>
                      <td class="mono">{e.address ?? ''}</td>
                      <td class="mono small">{e.detail ? JSON.stringify(e.detail) : ''}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
          {data.next_before !== null ? (
            <p>
              <a href={`/dashboard/audit?${older.toString()}`} data-testid="audit-older">
                Older entries →
              </a>
            </p>
          ) : null}
        </section>
      </main>
    </Layout>
  );
}
