/**
 * Polls `probe` until it returns a truthy value, and returns that value. Tests wait this way
 * on a state another process or connection brings about (a row, a lock wait, an output
 * line), never by sleeping. `timeoutMs` only bounds a failure — it is no measurement — so it
 * is generous: the machine is a shared 2-core box, slow under load.
 */
export async function waitFor<T>(
  what: string,
  probe: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  { timeoutMs = 30_000, pollMs = 25 }: { timeoutMs?: number; pollMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
