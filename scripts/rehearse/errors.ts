/** An expected rehearsal failure (bad arguments, a database it cannot create): one line, exit 1. */
export class RehearsalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RehearsalError";
  }
}
