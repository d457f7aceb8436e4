/**
 * Word lists for believable demo data. Plain ASCII letters and spaces only: the COPY
 * writer relies on that (nothing here needs escaping in PostgreSQL's text format).
 */

export const ORG_ADJECTIVES = [
  "Acme", "Blue", "Bright", "Cedar", "Clear", "Copper", "Crimson", "Delta", "Eastern", "Evergreen",
  "First", "Golden", "Granite", "Harbor", "Iron", "Lunar", "Maple", "Meridian", "Northern", "Nova",
  "Oak", "Pacific", "Pioneer", "Quantum", "Rapid", "Red", "Silver", "Solar", "Stellar", "Summit",
  "Swift", "True", "Union", "Vertex", "Western", "Zenith",
] as const;

export const ORG_NOUNS = [
  "Analytics", "Bakery", "Bank", "Bio", "Cloud", "Consulting", "Data", "Design", "Dynamics", "Energy",
  "Foods", "Freight", "Games", "Health", "Insights", "Labs", "Learning", "Logistics", "Media", "Motors",
  "Networks", "Partners", "Pharma", "Robotics", "Security", "Software", "Studio", "Systems", "Telecom",
  "Travel", "Ventures", "Works",
] as const;

export const ORG_SUFFIXES = ["", "", "", " Inc", " Ltd", " GmbH", " Group", " Co", " LLC"] as const;

export const FIRST_NAMES = [
  "Ada", "Alan", "Amara", "Ana", "Arjun", "Ben", "Carmen", "Chen", "Chloe", "Daniel", "Diego", "Elena",
  "Emma", "Fatima", "Felix", "Grace", "Hana", "Hugo", "Ines", "Isaac", "Jamal", "Jin", "Julia", "Kai",
  "Kenji", "Lars", "Layla", "Leo", "Lucia", "Maya", "Mei", "Mohammed", "Nadia", "Noah", "Olga", "Omar",
  "Priya", "Rafael", "Rosa", "Sam", "Sara", "Sofia", "Tariq", "Tom", "Uma", "Victor", "Wei", "Yuki", "Zoe",
] as const;

export const LAST_NAMES = [
  "Adeyemi", "Alvarez", "Andersen", "Bauer", "Brown", "Castro", "Chen", "Costa", "Dubois", "Garcia",
  "Gupta", "Hansen", "Hoffmann", "Ivanova", "Jensen", "Kim", "Kowalski", "Larsen", "Lee", "Lopez",
  "Martin", "Meyer", "Moreau", "Nakamura", "Nguyen", "Novak", "Okafor", "Patel", "Petrov", "Rossi",
  "Santos", "Schmidt", "Silva", "Singh", "Smith", "Tanaka", "Wagner", "Wang", "Williams", "Yilmaz",
] as const;

export const TEAM_NAMES = [
  "Platform", "Payments", "Growth", "Mobile", "Web", "Data", "Infrastructure", "Security", "Design",
  "Support", "Sales", "Marketing", "Finance", "Legal", "People", "Research", "Operations", "Search",
  "Identity", "Billing", "Analytics", "Reliability", "Onboarding", "Partnerships",
] as const;

/** File kinds by size class: [extension, content type]. */
export const DOCUMENT_TYPES = [
  ["pdf", "application/pdf"],
  ["docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"],
  ["xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"],
  ["csv", "text/csv"],
  ["png", "image/png"],
  ["jpg", "image/jpeg"],
  ["txt", "text/plain"],
  ["json", "application/json"],
] as const;

export const MEDIA_TYPES = [
  ["mp4", "video/mp4"],
  ["mov", "video/quicktime"],
  ["zip", "application/zip"],
  ["psd", "image/vnd.adobe.photoshop"],
  ["wav", "audio/wav"],
] as const;

export const ARCHIVE_TYPES = [
  ["tar.gz", "application/gzip"],
  ["iso", "application/x-iso9660-image"],
  ["mkv", "video/x-matroska"],
  ["bak", "application/octet-stream"],
] as const;

export const FILE_STEMS = [
  "report", "invoice", "contract", "roadmap", "screenshot", "logo", "export", "notes", "budget",
  "presentation", "recording", "dataset", "backup", "design", "minutes", "photo", "demo", "release",
] as const;
