import { z } from 'zod';
import { withPeriod } from '../period.js';
import { decodeCursor } from './paging.js';
import { CATEGORIES, VerifyParam } from './types.js';

/** Items a page holds when the request does not say, and at most. */
export const DEFAULT_PAGE_ITEMS = 500;
export const MAX_PAGE_ITEMS = 5_000;

const wholeNumber = `expected a whole number 1–${MAX_PAGE_ITEMS}`;

/** A request for a page of the report: the API's query and the command line's options alike. */
export const ReconciliationQuery = withPeriod({
  verify: VerifyParam,
  limit: z.coerce.number({ error: wholeNumber }).int(wholeNumber).min(1, wholeNumber).max(MAX_PAGE_ITEMS, `at most ${MAX_PAGE_ITEMS}`).default(DEFAULT_PAGE_ITEMS),
  cursor: z
    .string()
    .optional()
    .refine((v) => v === undefined || decodeCursor(v) !== null, 'not a cursor this report gave (use next_cursor as it came)'),
  category: z.enum(CATEGORIES, { error: `expected one of ${CATEGORIES.join(', ')}` }).optional(),
});
