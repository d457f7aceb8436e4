/** An expected seed failure (bad arguments, seed already applied): printed as one line. */
export class SeedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SeedError";
  }
}
