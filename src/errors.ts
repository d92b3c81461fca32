/**
 * The one error taxonomy. Domain code throws these; app.onError maps them to the JSON error shape
 * `{"error": {"code", "message"}}`. Messages are written for the operator and never carry secrets.
 */
export class AppError extends Error {
  constructor(
    readonly status: 400 | 401 | 404 | 409 | 413 | 422 | 503,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'AppError';
  }
}

export const badRequest = (code: string, message: string) => new AppError(400, code, message);
export const unauthorized = (code: string, message: string) => new AppError(401, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);

/** The database could not be reached: Feishu will retry a 503, so nothing is lost. */
export class DatabaseUnavailableError extends AppError {
  constructor(cause?: unknown) {
    super(503, 'database_unavailable', 'database unavailable, retry later');
    this.cause = cause;
  }
}
