import type { historyOf } from '../../leave/queries.js';

/** An instant as the pages show it: UTC, to the second. */
export const time = (t: Date | string | null) => (t === null ? '—' : new Date(t).toISOString().replace('T', ' ').slice(0, 19));

type History = Awaited<ReturnType<typeof historyOf>>;
interface OutboxRow {
  id: number;
  kind: string;
  status: string;
  attempts: number;
  last_error: string | null;
  created_at: Date | string;
}

/** What arrived for a record and what each event did, then its outbox rows. */
export function HistoryTable(props: { history: History; outbox: OutboxRow[] }) {
  return (
    <table>
      <thead>
        <tr>
          <th>Received</th>
          <th>Event</th>
          <th>Outcome</th>
        </tr>
      </thead>
      <tbody>
        {props.history.map((h) => (
          <tr>
            <td class="nowrap">{time(h.received_at)}</td>
            <td class="mono nowrap">
              {h.event_type} <span class="badge info">{h.source}</span>
            </td>
            <td>
              {h.status}
              {h.effect ? ` · ${h.effect}` : ''}
              {h.reason ? ` · ${h.reason}` : ''}
            </td>
          </tr>
        ))}
        {props.outbox.map((m) => (
          <tr>
            <td class="nowrap">{time(m.created_at)}</td>
            <td class="mono nowrap">
              outbox #{m.id} {m.kind}
            </td>
            <td>
              {m.status} · {m.attempts} attempt{m.attempts === 1 ? '' : 's'}
              {m.last_error ? ` · ${m.last_error}` : ''}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
