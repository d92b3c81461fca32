/** The error an authentic event raises when its content cannot be used; its message is the quarantine reason. */
/** An authentic event whose content we cannot use: kept in quarantine with this reason. */
export class UnusableEventError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnusableEventError';
  }
}
