import { PLANS } from "@/server/billing/catalogue";

import { monthlyPeriodContaining } from "./period";
import { Random } from "./prng";
import {
  ARCHIVE_TYPES,
  DOCUMENT_TYPES,
  FILE_STEMS,
  FIRST_NAMES,
  LAST_NAMES,
  MEDIA_TYPES,
  ORG_ADJECTIVES,
  ORG_NOUNS,
  ORG_SUFFIXES,
  TEAM_NAMES,
} from "./vocabulary";

/**
 * The deterministic demo-data generator: one organization at a time, from its own PRNG
 * stream (seed, index). Pure: no database, no clock except the `now` it is given, which
 * only places the subscription's current period.
 *
 * Times are epoch milliseconds (UTC) between fixed instants, so the same seed gives the
 * same rows on any machine on any day.
 */

/** Organizations were created between these instants… */
export const ORGS_FROM = Date.UTC(2024, 0, 1);
export const ORGS_UNTIL = Date.UTC(2025, 11, 31);
/** …and their counts were recorded (ledger `seed` rows for gauges) at this one. */
export const SEEDED_AT = Date.UTC(2026, 0, 1);

const DAY = 86_400_000;
const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;

export type SubscriptionStatus = "active" | "on_hold" | "cancelled" | "expired";
export type SeedMetric = "members" | "teams" | "storage_bytes" | "api_calls";

export interface SeedMember {
  id: string;
  email: string;
  name: string;
  role: "owner" | "admin" | "member";
  createdAt: number;
}

export interface SeedTeam {
  id: string;
  name: string;
  createdAt: number;
}

export interface SeedFile {
  id: string;
  name: string;
  contentType: string;
  sizeBytes: bigint;
  createdAt: number;
}

export interface SeedSubscription {
  /** `sub_` + 24 characters, like a Dodo subscription id. */
  id: string;
  productId: string;
  status: SubscriptionStatus;
  periodStart: number;
  periodEnd: number;
  createdAt: number;
  updatedAt: number;
}

export interface SeedLedgerEntry {
  id: string;
  metric: SeedMetric;
  delta: bigint;
  timestamp: number;
}

/** The legacy ad-hoc counters as the host app stored them: storage as a decimal string. */
export interface LegacyUsage {
  members: number;
  teams: number;
  storage_bytes: string;
}

export interface SeedOrg {
  index: number;
  id: string;
  name: string;
  slug: string;
  createdAt: number;
  subscription: SeedSubscription | null;
  members: SeedMember[];
  teams: SeedTeam[];
  files: SeedFile[];
  /** The true amounts, i.e. what a COUNT(*)/SUM over the rows above gives. */
  totals: { members: number; teams: number; storageBytes: bigint };
  /** What `organizations.usage` says: the totals, or (for ~10%) a drifted copy. */
  legacyUsage: LegacyUsage;
  legacyDrifted: boolean;
  /** One `seed` row per metric with delta = the true amount (api_calls: subscribed orgs). */
  ledger: SeedLedgerEntry[];
}

/** Every slug (and so every e-mail domain) of a seed starts with this. */
export function slugPrefix(seed: number): string {
  return `s${seed}-`;
}

const FIRST_LOWER = FIRST_NAMES.map((name) => name.toLowerCase());
const LAST_LOWER = LAST_NAMES.map((name) => name.toLowerCase());

const PAID_PLANS = PLANS.filter((plan) => plan.dodoProductId !== null);
const productOf = (planId: string): string => {
  const plan = PAID_PLANS.find((p) => p.id === planId);
  if (!plan?.dodoProductId) throw new Error(`the catalogue has no paid plan "${planId}"`);
  return plan.dodoProductId;
};

/**
 * Members per org: most orgs have a handful, a long tail has thousands. Tiers with a
 * log-uniform size inside each; the weights give a mean of about 100 members per org.
 */
const MEMBER_TIERS: readonly { weight: number; min: number; max: number }[] = [
  { weight: 0.57, min: 1, max: 9 },
  { weight: 0.25, min: 9, max: 45 },
  { weight: 0.12, min: 45, max: 250 },
  { weight: 0.0468, min: 250, max: 1_200 },
  { weight: 0.012, min: 1_200, max: 6_000 },
  { weight: 0.0012, min: 6_000, max: 25_000 },
];

function memberCount(random: Random): number {
  let u = random.next();
  for (const tier of MEMBER_TIERS) {
    if (u < tier.weight) return random.logUniform(tier.min, tier.max);
    u -= tier.weight;
  }
  return 1;
}

/** Bigger orgs buy bigger plans; overall about 40% stay on the free plan (no subscription). */
function planFor(random: Random, members: number): string {
  const u = random.next();
  if (members < 9) return u < 0.5 ? "free" : u < 0.9 ? "pro" : u < 0.99 ? "business" : "enterprise";
  if (members < 250) return u < 0.3 ? "free" : u < 0.65 ? "pro" : u < 0.95 ? "business" : "enterprise";
  return u < 0.1 ? "free" : u < 0.2 ? "pro" : u < 0.6 ? "business" : "enterprise";
}

function statusFor(random: Random): SubscriptionStatus {
  const u = random.next();
  return u < 0.91 ? "active" : u < 0.94 ? "on_hold" : u < 0.97 ? "cancelled" : "expired";
}

/** Mostly documents, some media, a rare multi-GiB archive: so some orgs pass 2^31 bytes. */
function fileKind(random: Random): { type: readonly [string, string]; size: number } {
  const u = random.next();
  if (u < 0.9) return { type: random.pick(DOCUMENT_TYPES), size: random.logUniform(2 * KiB, 20 * MiB) };
  if (u < 0.995) return { type: random.pick(MEDIA_TYPES), size: random.logUniform(20 * MiB, 512 * MiB) };
  return { type: random.pick(ARCHIVE_TYPES), size: random.int(GiB, 6 * GiB) };
}

const between = (random: Random, from: number, until: number) => from + Math.floor(random.next() * (until - from));

export function generateOrg(seed: number, index: number, now: Date): SeedOrg {
  const random = new Random(seed, index);
  const id = random.uuid();
  const name = `${random.pick(ORG_ADJECTIVES)} ${random.pick(ORG_NOUNS)}${random.pick(ORG_SUFFIXES)}`;
  const slug = `${slugPrefix(seed)}${name.toLowerCase().replaceAll(" ", "-")}-${index}`;
  const createdAt = between(random, ORGS_FROM, ORGS_UNTIL);
  const domain = `${slug}.example.com`;

  const memberTotal = memberCount(random);
  const members: SeedMember[] = new Array<SeedMember>(memberTotal);
  for (let k = 0; k < memberTotal; k++) {
    const first = random.index(FIRST_NAMES.length);
    const last = random.index(LAST_NAMES.length);
    members[k] = {
      id: random.uuid(),
      // The member number keeps e-mails unique within the org (the owner's needs none).
      email: `${FIRST_LOWER[first]}.${LAST_LOWER[last]}${k === 0 ? "" : k}@${domain}`,
      name: `${FIRST_NAMES[first]} ${LAST_NAMES[last]}`,
      role: k === 0 ? "owner" : random.chance(0.05) ? "admin" : "member",
      createdAt: k === 0 ? createdAt : between(random, createdAt, SEEDED_AT),
    };
  }

  // About one team per eight members (the fraction decides by chance, so the mean is exact).
  const teamTotal = Math.floor(memberTotal / 8 + random.next());
  const teams: SeedTeam[] = [];
  for (let k = 0; k < teamTotal; k++) {
    const base = TEAM_NAMES[k % TEAM_NAMES.length] ?? "Team";
    const round = Math.floor(k / TEAM_NAMES.length);
    teams.push({ id: random.uuid(), name: round === 0 ? base : `${base} ${round + 1}`, createdAt: between(random, createdAt, SEEDED_AT) });
  }

  // About 20 files per org on average: some per member, plus an exponential number.
  const fileTotal = Math.floor(memberTotal * 0.1 + random.exponential(10));
  const files: SeedFile[] = [];
  let storageBytes = 0n;
  for (let k = 0; k < fileTotal; k++) {
    const { type, size } = fileKind(random);
    files.push({
      id: random.uuid(),
      name: `${random.pick(FILE_STEMS)}-${k + 1}.${type[0]}`,
      contentType: type[1],
      sizeBytes: BigInt(size),
      createdAt: between(random, createdAt, SEEDED_AT),
    });
    storageBytes += BigInt(size);
  }
  if (index === 0) {
    // Org 0 of every seed holds a 5–6 GiB backup, so every seed run has an org whose storage
    // passes 2^31 (and 2^32) bytes: the 64-bit path is always exercised.
    const size = BigInt(5 * GiB + random.int(0, GiB - 1));
    files.push({
      id: random.uuid(),
      name: "backup-full.tar.gz",
      contentType: "application/gzip",
      sizeBytes: size,
      createdAt: between(random, createdAt, SEEDED_AT),
    });
    storageBytes += size;
  }

  const planId = planFor(random, memberTotal);
  let subscription: SeedSubscription | null = null;
  if (planId !== "free") {
    const subscriptionId = `sub_${random.alphanumeric(24)}`;
    const status = statusFor(random);
    const period = monthlyPeriodContaining(now, { day: random.int(1, 28), timeOfDay: random.int(0, DAY - 1) });
    const subscribedAt = between(random, createdAt, Math.min(createdAt + 60 * DAY, SEEDED_AT));
    subscription = {
      id: subscriptionId,
      productId: productOf(planId),
      status,
      periodStart: period.start.getTime(),
      periodEnd: period.end.getTime(),
      createdAt: subscribedAt,
      updatedAt: between(random, subscribedAt, SEEDED_AT),
    };
  }

  // The legacy counter drifts for about one org in ten (org 1 always, so every seed run
  // has a disagreement to find): off by a few, as a missed increment or decrement would be.
  const legacyDrifted = index === 1 || random.chance(0.1);
  const legacyUsage: LegacyUsage = {
    members: memberTotal,
    teams: teamTotal,
    storage_bytes: storageBytes.toString(),
  };
  if (legacyDrifted) {
    const offBy = (random.chance(0.5) ? 1 : -1) * random.int(1, 3);
    legacyUsage.members = Math.max(0, memberTotal + offBy);
    if (random.chance(0.5)) legacyUsage.teams = Math.max(0, teamTotal + random.int(-2, 2));
    if (random.chance(0.5)) {
      const missed = BigInt(random.logUniform(KiB, 50 * MiB)) * (random.chance(0.5) ? 1n : -1n);
      const drifted = storageBytes + missed;
      legacyUsage.storage_bytes = (drifted < 0n ? 0n : drifted).toString();
    }
  }

  const ledger: SeedLedgerEntry[] = [
    { id: random.uuid(), metric: "members", delta: BigInt(memberTotal), timestamp: SEEDED_AT },
    { id: random.uuid(), metric: "teams", delta: BigInt(teamTotal), timestamp: SEEDED_AT },
    { id: random.uuid(), metric: "storage_bytes", delta: storageBytes, timestamp: SEEDED_AT },
  ];
  if (subscription) {
    // This period's API calls so far, recorded at the period start (period counters reset
    // there); scales with the org's size.
    const apiCalls = 1 + Math.floor(memberTotal * random.next() * 400);
    ledger.push({ id: random.uuid(), metric: "api_calls", delta: BigInt(apiCalls), timestamp: subscription.periodStart });
  }

  return {
    index,
    id,
    name,
    slug,
    createdAt,
    subscription,
    members,
    teams,
    files,
    totals: { members: memberTotal, teams: teamTotal, storageBytes },
    legacyUsage,
    legacyDrifted,
    ledger,
  };
}
