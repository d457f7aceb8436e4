/**
 * What a product-app key may do; each procedure for the product app names one scope. No
 * dependencies: the API keys form (a client component) lists them from here.
 */
export const API_SCOPES = ["usage:read", "usage:write", "entitlements:read"] as const;
export type ApiScope = (typeof API_SCOPES)[number];
