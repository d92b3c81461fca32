import { expect } from 'vitest';
import { ExternalError } from '../../src/ports.js';

/** The ExternalError a promise rejects with (fails the test if it resolves or throws anything else). */
export async function rejection(p: Promise<unknown>): Promise<ExternalError> {
  const err = await p.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(ExternalError);
  return err as ExternalError;
}
