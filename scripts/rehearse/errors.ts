/** An expected rehearsal failure (a database it cannot create, workers that do not start): one line, exit 1. */
export class RehearsalError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "RehearsalError";
  }
}
