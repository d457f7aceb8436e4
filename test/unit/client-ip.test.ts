import { describe, expect, it } from "vitest";

import { InvalidEnvError, parseEnv } from "@/server/env";
import { parseTrustedProxies, resolveClientIp } from "@/server/http/client-ip";

describe("resolveClientIp", () => {
  const none = parseTrustedProxies(undefined);
  const proxies = parseTrustedProxies("127.0.0.1, 10.0.0.0/8, fd00::/8");

  it("without trusted proxies the socket's peer is the client, whatever X-Forwarded-For says", () => {
    expect(resolveClientIp("203.0.113.9", "198.51.100.1", none)).toBe("203.0.113.9");
    expect(resolveClientIp("203.0.113.9", "198.51.100.1, 10.0.0.1", none)).toBe("203.0.113.9");
    expect(resolveClientIp("::ffff:127.0.0.1", undefined, none)).toBe("127.0.0.1");
    expect(resolveClientIp(undefined, "198.51.100.1", none)).toBeUndefined();
  });

  it("walks X-Forwarded-For from the right, skipping trusted hops, to the first untrusted address", () => {
    expect(resolveClientIp("127.0.0.1", "198.51.100.1", proxies)).toBe("198.51.100.1");
    expect(resolveClientIp("::ffff:127.0.0.1", "6.6.6.6, 198.51.100.1, 10.1.2.3", proxies)).toBe("198.51.100.1");
    expect(resolveClientIp("127.0.0.1", ["6.6.6.6", "198.51.100.1, 10.1.2.3"], proxies)).toBe("198.51.100.1");
    expect(resolveClientIp("fd00::1", "2001:db8::5, fd00::2", proxies)).toBe("2001:db8::5");
    expect(resolveClientIp("127.0.0.1", "[2001:db8::5]:4711, 198.51.100.1:80", proxies)).toBe("198.51.100.1");
  });

  it("an untrusted peer's X-Forwarded-For is ignored even when proxies are configured", () => {
    expect(resolveClientIp("203.0.113.9", "198.51.100.1, 127.0.0.1", proxies)).toBe("203.0.113.9");
  });

  it("stops at the last hop it can vouch for: no header, all hops trusted, or text that is not an address", () => {
    expect(resolveClientIp("127.0.0.1", undefined, proxies)).toBe("127.0.0.1");
    expect(resolveClientIp("127.0.0.1", "10.0.0.7, 10.0.0.8", proxies)).toBe("10.0.0.7");
    expect(resolveClientIp("127.0.0.1", "198.51.100.1, client-a, 10.0.0.8", proxies)).toBe("10.0.0.8");
  });
});

describe("TRUSTED_PROXIES", () => {
  it("accepts IPs and CIDR ranges, comma-separated; unset or empty trusts none", () => {
    expect(parseEnv({ TRUSTED_PROXIES: " 10.0.0.0/8 ,127.0.0.1,::1, fd00::/8" }).TRUSTED_PROXIES.entries).toEqual([
      "10.0.0.0/8",
      "127.0.0.1",
      "::1",
      "fd00::/8",
    ]);
    expect(parseEnv({}).TRUSTED_PROXIES.entries).toEqual([]);
    expect(parseEnv({ TRUSTED_PROXIES: "" }).TRUSTED_PROXIES.has("127.0.0.1")).toBe(false);
  });

  it.each(["proxy.internal", "10.0.0.0/33", "10.0.0.0/x", "::1/129", "10.0.0.1/8/1", "10.0.0.256"])(
    "rejects %j in one line naming it",
    (value) => {
      let line = "";
      try {
        parseEnv({ TRUSTED_PROXIES: `127.0.0.1,${value}` });
      } catch (error) {
        if (error instanceof InvalidEnvError) line = error.line;
      }
      expect(line).toBe(
        `Invalid environment: TRUSTED_PROXIES must be a comma-separated list of IP addresses or CIDR ranges; "${value}" is neither`,
      );
    },
  );
});
