import { Layout } from './layout.js';

/**
 * Sign-in: with Feishu where it is configured (named operators), else with the admin token.
 * Both are plain links and forms: the pages run no script.
 */
export function LoginPage(props: { next: string; error?: string; feishu: boolean; token: boolean }) {
  return (
    <Layout title="Sign in · leave-bridge">
      <div class="login">
        <h1>leave-bridge</h1>
        {props.error ? (
          <div class="error" role="alert">
            {props.error}
          </div>
        ) : null}
        {props.feishu ? (
          <>
            <p>Sign in with your Feishu account to open the dashboard.</p>
            <a class="btn" href={`/dashboard/oauth/start?${new URLSearchParams({ next: props.next }).toString()}`} data-testid="feishu-sign-in">
              Sign in with Feishu
            </a>
          </>
        ) : null}
        {props.token ? (
          <form method="post" action="/dashboard/login">
            <p>Enter the admin token to open the dashboard.</p>
            <label for="token">Admin token</label>
            <input id="token" name="token" type="password" autocomplete="current-password" required autofocus />
            <input type="hidden" name="next" value={props.next} />
            <button type="submit">Sign in</button>
          </form>
        ) : null}
      </div>
    </Layout>
  );
}
