import { toNextJsHandler } from "better-auth/next-js";

import { staffAuth } from "@/server/auth";
import { trustedClientIpRequest } from "@/server/http/client-ip";

// better-auth's endpoints (sign-in, sign-out, get-session, …) under /api/auth. The instance
// is created on the first request, never at import (so `next build` needs no database).
export const runtime = "nodejs";
export const dynamic = "force-dynamic";

// The client's address only as our server in front of Next stamped it (src/server/http/client-ip.ts).
export const { GET, POST, PATCH, PUT, DELETE } = toNextJsHandler((request: Request) =>
  staffAuth().handler(trustedClientIpRequest(request)),
);
