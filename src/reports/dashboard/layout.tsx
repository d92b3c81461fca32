import { raw } from 'hono/html';
import type { Child } from 'hono/jsx';
import type { Period } from '../period.js';
import type { VerifyOptions } from '../reconciliation/index.js';
import { CSS } from './styles.js';

export function Layout(props: { title: string; children?: Child; header?: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex" />
        <title>{props.title}</title>
        <style>{raw(CSS)}</style>
      </head>
      <body>
        {props.header}
        {props.children}
      </body>
    </html>
  );
}

export async function renderHtml(element: Child): Promise<string> {
  return `<!DOCTYPE html>${String(await element)}`;
}

export const qs = (period: Period, verify?: VerifyOptions) => {
  const p = new URLSearchParams({ from: period.from, to: period.to });
  const v = [verify?.google ? 'google' : null, verify?.feishu ? 'feishu' : null].filter(Boolean).join(',');
  if (v) p.set('verify', v);
  return p.toString();
};

export const leaveLink = (code: string) => `/dashboard/leaves/${encodeURIComponent(code)}`;

export function Card(props: { id: string; label: string; value: string | number; note?: Child; tone?: 'bad' | 'warn' | 'good' }) {
  return (
    <div class={`card${props.tone ? ` ${props.tone}` : ''}`} data-testid={props.id}>
      <div class="label">{props.label}</div>
      <div class="value" data-testid={`${props.id}-value`}>
        {props.value}
      </div>
      {props.note ? <div class="note">{props.note}</div> : null}
    </div>
  );
}
