import { existsSync } from "node:fs";
import { readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";

import { OWNER_FILE } from "./data-dir";

/**
 * Who owns the project's embedded server: the owner file (which process started it), whether a
 * postmaster runs on a data directory, and stopping one we adopted. Whoever starts the server
 * stops it; the owner file lets a second `npm start` refuse instead of corrupting anything.
 */

export interface Owner {
  pid: number;
  command: string;
  startedAt: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** The postmaster's pid and port when a server is running on `dir`, from its postmaster.pid. */
export async function runningPostmaster(dir: string): Promise<{ pid: number; port: number } | undefined> {
  const pidFile = path.join(dir, "postmaster.pid");
  if (!existsSync(pidFile)) return undefined;
  const lines = (await readFile(pidFile, "utf8")).split("\n");
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || !isAlive(pid)) return undefined;
  return { pid, port };
}

export async function readOwner(): Promise<Owner | undefined> {
  if (!existsSync(OWNER_FILE())) return undefined;
  const owner = JSON.parse(await readFile(OWNER_FILE(), "utf8")) as Owner;
  return isAlive(owner.pid) ? owner : undefined;
}

export async function writeOwner(command: string): Promise<void> {
  const owner: Owner = { pid: process.pid, command, startedAt: new Date().toISOString() };
  await writeFile(OWNER_FILE(), JSON.stringify(owner));
}

export async function removeOwner(): Promise<void> {
  await rm(OWNER_FILE(), { force: true });
}

export async function stopPostmaster(pid: number): Promise<void> {
  try {
    process.kill(pid, "SIGINT"); // PostgreSQL's "fast" shutdown
  } catch {
    return;
  }
  for (let i = 0; i < 100 && isAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
}
