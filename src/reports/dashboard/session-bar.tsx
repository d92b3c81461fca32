/** Who is signed in, as the dashboard's header shows it. */
export interface SessionView {
  who: string;
  /** the sign-out form's per-session token; null when the page was opened with the bearer token */
  csrf: string | null;
}

/** The signed-in operator, links to the policies and the audit log, and sign-out (a form: the pages run no script). */
export function SessionBar(props: { session: SessionView }) {
  return (
    <div class="session" data-testid="session">
      <span class="who" data-testid="session-who">
        {props.session.who}
      </span>
      <a href="/dashboard/policies">Policies</a>
      <a href="/dashboard/audit">Audit log</a>
      {props.session.csrf !== null ? (
        <form method="post" action="/dashboard/logout">
          <input type="hidden" name="csrf" value={props.session.csrf} />
          <button class="ghost" type="submit">
            Sign out
          </button>
        </form>
      ) : null}
    </div>
  );
}
