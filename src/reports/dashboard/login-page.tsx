import { Layout } from './layout.js';

export function LoginPage(props: { next: string; error?: string }) {
  return (
    <Layout title="Sign in · leave-bridge">
      <form class="login" method="post" action="/dashboard/login">
        <h1>leave-bridge</h1>
        <p>Enter the admin token to open the dashboard.</p>
        {props.error ? (
          <div class="error" role="alert">
            {props.error}
          </div>
        ) : null}
        <label for="token">Admin token</label>
        <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
        <input type="hidden" name="next" value={props.next} />
        <button type="submit">Sign in</button>
      </form>
    </Layout>
  );
}
