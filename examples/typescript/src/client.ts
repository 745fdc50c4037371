// A typed client for the GamifyHost User Journeys API: openapi-fetch over the types that
// openapi-typescript generated from openapi.yaml (src/api.d.ts, `npm run generate`).
// Every path, parameter, body and answer below is checked by the compiler against the contract.
import createClient from "openapi-fetch";
import type { components, paths } from "./api.js";

/** gamifyhost-mock's default address; set GAMIFYHOST_URL for another (https://api.gamifyhost.com). */
export const DEFAULT_URL = "http://127.0.0.1:4010";
/**
 * A public TEST key that the mock accepts both without a keys file (any well-formed pk_test_ key)
 * and with `--keys demo` (Acme Games' test key). Set GAMIFYHOST_API_KEY for your own.
 */
export const DEFAULT_API_KEY = "pk_test_4e1baec9e705789eebc174f4eabc875a";

/** The error envelope every failing call answers: {"status": "error", "code", "message", "errors"?}. */
export type ApiError = components["schemas"]["Error"];

export function createGamifyHostClient(baseUrl: string, apiKey: string) {
  return createClient<paths>({ baseUrl, headers: { "X-API-Key": apiKey } });
}

/** The address and key from the environment, or the mock's defaults. */
export function settingsFromEnv(env: NodeJS.ProcessEnv = process.env): { baseUrl: string; apiKey: string } {
  return { baseUrl: env.GAMIFYHOST_URL || DEFAULT_URL, apiKey: env.GAMIFYHOST_API_KEY || DEFAULT_API_KEY };
}
