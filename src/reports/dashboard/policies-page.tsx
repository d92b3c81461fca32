import { CALENDAR_EFFECTS, DECLINE_MODES, POLICY_KINDS, TITLE_MAX, PAYROLL_CODE_MAX, LEAVE_TYPE_MAX, VISIBILITIES } from '../../policies/body.js';
import type { PolicyView } from '../../policies/store.js';
import { Layout } from './layout.js';
import { SessionBar, type SessionView } from './session-bar.js';

/** What the edit form shows: a stored policy, a new one, or what was just refused. */
export interface PolicyFormValues {
  kind: string;
  leave_type: string;
  calendar: string;
  decline_mode: string;
  title: string;
  visibility: string;
  payroll_code: string;
  /** '' (the kind's default) | 'true' | 'false' */
  counts_as_leave: string;
}

export const formValuesOf = (p: PolicyView | null): PolicyFormValues => ({
  kind: p?.kind ?? '*',
  leave_type: p?.leave_type ?? '',
  calendar: p?.calendar ?? 'outOfOffice',
  decline_mode: p?.decline_mode ?? '',
  title: p?.title ?? '',
  visibility: p?.visibility ?? 'name_only',
  payroll_code: p?.payroll_code ?? '',
  counts_as_leave: p?.counts_as_leave === null || p?.counts_as_leave === undefined ? '' : String(p.counts_as_leave),
});

const editLink = (p: PolicyView) => `/dashboard/policies?${new URLSearchParams({ kind: p.kind, leave_type: p.leave_type }).toString()}`;
const shown = (v: string | boolean | null, fallback: string) => (v === null ? <span class="small">{fallback}</span> : String(v));

function Select(props: { name: string; value: string; options: readonly string[]; blank?: string }) {
  return (
    <select name={props.name} id={`policy-${props.name}`}>
      {props.blank !== undefined ? (
        <option value="" selected={props.value === ''}>
          {props.blank}
        </option>
      ) : null}
      {props.options.map((o) => (
        <option value={o} selected={o === props.value}>
          {o}
        </option>
      ))}
    </select>
  );
}

/**
 * The policies (GET /dashboard/policies): what each leave type and kind does to calendars, feeds,
 * payroll and the figures, and a form that stores one (POST /dashboard/policies, with the
 * session's CSRF token: the pages run no script).
 */
export function PoliciesPage(props: { items: PolicyView[]; form: PolicyFormValues; session: SessionView; error?: string; saved?: string }) {
  const f = props.form;
  return (
    <Layout
      title="Policies · leave-bridge"
      header={
        <header class="top">
          <div class="wrap bar">
            <h1>
              leave-bridge <span>· policies</span>
            </h1>
            <nav class="nav">
              <a href="/dashboard">← dashboard</a>
              <a href="/api/policies">JSON</a>
            </nav>
            <SessionBar session={props.session} />
          </div>
        </header>
      }
    >
      <main class="wrap">
        {props.error ? (
          <p class="notice error" role="alert" data-testid="policy-error">
            {props.error}
          </p>
        ) : null}
        {props.saved ? (
          <p class="notice ok" role="status" data-testid="policy-saved">
            {props.saved}
          </p>
        ) : null}
        <section class="panel">
          <h2>Policies</h2>
          <p class="hint">
            The most specific policy wins: the kind and type, then the type for every kind, then the kind's default (type *), then the default (* and *). An empty field takes the
            default: the configured title and decline mode; leaves count as leave, other kinds do not.
          </p>
          {props.items.length === 0 ? (
            <p class="empty">No policies: every approval gets an out-of-office block with the generic title, shows by name only, and has no payroll code.</p>
          ) : (
            <div class="scroll">
              <table data-testid="policy-table">
                <thead>
                  <tr>
                    <th>Kind</th>
                    <th>Leave type</th>
                    <th>Calendar</th>
                    <th>Decline mode</th>
                    <th>Title</th>
                    <th>Visibility</th>
                    <th>Payroll code</th>
                    <th>Counts as leave</th>
                    <th></th>
                  </tr>
                </thead>
                <tbody>
                  {props.items.map((p) => (
                    <tr class="policy-row" data-kind={p.kind} data-type={p.leave_type}>
                      <td class="mono">{p.kind}</td>
                      <td>{p.leave_type}</td>
                      <td class="mono">{p.calendar}</td>
                      <td class="mono">{p.calendar === 'outOfOffice' ? shown(p.decline_mode, 'default') : ''}</td>
                      <td>{shown(p.title, 'default')}</td>
                      <td class="mono">{p.visibility}</td>
                      <td class="mono">{shown(p.payroll_code, '—')}</td>
                      <td>{shown(p.counts_as_leave, 'default')}</td>
                      <td class="nowrap">
                        <a href={editLink(p)}>Edit</a>{' '}
                        <form class="inline" method="post" action="/dashboard/policies/delete">
                          {props.session.csrf !== null ? <input type="hidden" name="csrf" value={props.session.csrf} /> : null}
                          <input type="hidden" name="kind" value={p.kind} />
                          <input type="hidden" name="leave_type" value={p.leave_type} />
                          <button class="ghost dark" type="submit">
                            Delete
                          </button>
                        </form>
                      </td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
          )}
        </section>

        <section class="panel">
          <h2>Set a policy</h2>
          <p class="hint">Storing a policy re-syncs the calendar blocks still to come that it changes; past blocks stay as they were made.</p>
          <form class="policy" method="post" action="/dashboard/policies" data-testid="policy-form">
            {props.session.csrf !== null ? <input type="hidden" name="csrf" value={props.session.csrf} /> : null}
            <label>
              Kind <Select name="kind" value={f.kind} options={POLICY_KINDS} />
            </label>
            <label>
              Leave type <input name="leave_type" id="policy-leave_type" value={f.leave_type} maxlength={LEAVE_TYPE_MAX} placeholder="as in the export, or *" required />
            </label>
            <label>
              Calendar <Select name="calendar" value={f.calendar} options={CALENDAR_EFFECTS} />
            </label>
            <label>
              Decline mode <Select name="decline_mode" value={f.decline_mode} options={DECLINE_MODES} blank="default (out-of-office only)" />
            </label>
            <label>
              Title <input name="title" id="policy-title" value={f.title} maxlength={TITLE_MAX} placeholder="default: the generic title" />
            </label>
            <label>
              Visibility <Select name="visibility" value={f.visibility} options={VISIBILITIES} />
            </label>
            <label>
              Payroll code <input name="payroll_code" id="policy-payroll_code" value={f.payroll_code} maxlength={PAYROLL_CODE_MAX} />
            </label>
            <label>
              Counts as leave <Select name="counts_as_leave" value={f.counts_as_leave} options={['true', 'false']} blank="default" />
            </label>
            <button type="submit">Save policy</button>
          </form>
        </section>
      </main>
    </Layout>
  );
}
