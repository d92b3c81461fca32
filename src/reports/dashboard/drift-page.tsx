import type { Period } from '../period.js';
import type { Category, ReconciliationReport, VerifyOptions } from '../reconciliation/index.js';
import { driftPageLink, DriftTable } from './home-page.js';
import { Layout, qs } from './layout.js';
import { SessionBar, type SessionView } from './session-bar.js';

/** Items a drift page shows. */
export const DRIFT_PAGE_ITEMS = 100;

/** The drift items of one category, a page at a time (the dashboard shows only the first few). */
export function DriftPage(props: { period: Period; category: Category; verify?: VerifyOptions; report: ReconciliationReport; first: boolean; session: SessionView }) {
  const { period, category, report } = props;
  const api = new URLSearchParams(qs(period, props.verify));
  api.set('category', category);
  return (
    <Layout
      title={`${category} ${period.from} – ${period.to} · leave-bridge`}
      header={
        <header class="top">
          <div class="wrap bar">
            <h1>
              leave-bridge <span>· drift: {category}</span>
            </h1>
            <nav class="nav">
              <a href={`/dashboard?${qs(period, props.verify)}`}>← dashboard</a>
              <a href={`/api/reconciliation?${api.toString()}`}>JSON</a>
            </nav>
            <SessionBar session={props.session} />
          </div>
        </header>
      }
    >
      <main class="wrap">
        <section class="panel" data-testid="drift">
          <h2>
            {category} <span data-testid="drift-count">{report.summary[category]}</span>
          </h2>
          <p class="hint">
            Period {period.from} → {period.to}; {report.summary.total} drift item{report.summary.total === 1 ? '' : 's'} in all.
          </p>
          <DriftTable items={report.items} />
          <nav class="nav pager">
            {props.first ? null : <a href={driftPageLink(period, props.verify, category)}>first page</a>}
            {report.next_cursor ? (
              <a href={driftPageLink(period, props.verify, category, report.next_cursor)} data-testid="drift-next">
                next page →
              </a>
            ) : null}
          </nav>
        </section>
      </main>
    </Layout>
  );
}
