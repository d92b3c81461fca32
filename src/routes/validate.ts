import { zValidator } from '@hono/zod-validator';
import type { Context } from 'hono';
import { z } from 'zod';
import { AppError, type ErrorCode } from '../errors.js';
import { firstIssue } from '../shared/zod-issue.js';

/*
 * The one way routes validate input: zod schemas through Hono's validator middleware
 * (@hono/zod-validator), with one hook that turns a failure into the error taxonomy, naming the
 * field. A handler reads `c.req.valid(target)` and never parses by hand.
 */

type Issues = Parameters<typeof firstIssue>[0];
type CodeFor = ErrorCode | ((field: string) => ErrorCode);

const failWith = (code: CodeFor, whole: string) => (result: { success: true } | { success: false; error: Issues }) => {
  if (result.success) return;
  const field = String(result.error.issues[0]?.path[0] ?? '');
  throw new AppError(typeof code === 'function' ? code(field) : code, firstIssue(result.error, whole));
};

/** Query parameters: `invalid_query`, or the code given (per field, e.g. a period's bounds). */
export const query = <T extends z.ZodType>(schema: T, code: CodeFor = 'invalid_query') => zValidator('query', schema, failWith(code, 'query'));

/** Path parameters (`invalid_id`). */
export const param = <T extends z.ZodType>(schema: T) => zValidator('param', schema, failWith('invalid_id', 'path'));

/**
 * A JSON body (`invalid_json`, `invalid_body`). A body that is not declared JSON is refused (415)
 * rather than read as "no body", which is what the validator alone would do with it.
 */
export const json = <T extends z.ZodType>(schema: T) => {
  const validate = zValidator('json', schema, failWith('invalid_body', 'body'));
  return (async (c, next) => {
    await checkJsonBody(c);
    return validate(c, next);
  }) as typeof validate;
};

const JSON_TYPE = /^application\/([\w.-]+\+)?json$/i;

async function checkJsonBody(c: Context): Promise<void> {
  // Read as text first (Hono caches it for the validator): an in-process Request or a bodyless
  // POST may carry no Content-Length, so the bytes themselves tell whether there is a body.
  const text = await c.req.text();
  const type = (c.req.header('content-type') ?? '').split(';')[0]!.trim();
  if (text.trim() === '' && !JSON_TYPE.test(type)) return;
  if (!JSON_TYPE.test(type)) throw new AppError('unsupported_media_type', 'the body must be JSON (Content-Type: application/json)');
  try {
    JSON.parse(text);
  } catch {
    throw new AppError('invalid_json', 'the body is not valid JSON');
  }
}

/** A row id in a path: digits only (no 0x1F, 1e3 or -1), a safe integer above 0. */
export const PositiveId = z
  .string()
  .regex(/^[1-9][0-9]{0,15}$/, 'must be a positive integer')
  .transform(Number)
  .refine(Number.isSafeInteger, 'must be a positive integer');

/** A local date, YYYY-MM-DD, that exists in the calendar. */
export const LocalDate = z
  .string()
  .regex(/^\d{4}-\d{2}-\d{2}$/, 'expected YYYY-MM-DD')
  .refine((d) => !Number.isNaN(Date.parse(`${d}T00:00:00Z`)) && new Date(`${d}T00:00:00Z`).toISOString().startsWith(d), 'not a calendar date');

/** `limit` of a list: 1…max, default in the query function. */
export const Limit = (max: number) => z.coerce.number().int().min(1).max(max).optional();

/** An HTML form (`invalid_body`); a page turns a failed sign-in into its own answer. */
export const form = <T extends z.ZodType>(schema: T) => zValidator('form', schema, failWith('invalid_body', 'form'));
