// Tracks a user, posts an event, reads the profile, lists the user's offers and claims one,
// printing each step. Any error answer stops it with the API's message and exit code 1.
//
//   npm start                 # a new user, ts-example-<random>
//   npm start -- user_12345   # that user
import { randomUUID } from "node:crypto";
import { type ApiError, createGamifyHostClient, settingsFromEnv } from "./client.js";

/** A call that got an error answer (or none): what it was doing and what the API said. */
class CallFailed extends Error {}

/** The data of a successful answer; a CallFailed naming the step and the API's message otherwise. */
function ok<T>(step: string, result: { data?: T; error?: ApiError; response: Response }): T {
  if (result.data !== undefined) {
    return result.data;
  }
  const status = `${result.response.status} ${result.response.statusText}`.trim();
  const message = result.error?.message ?? "(no error message in the answer)";
  const fields = (result.error?.errors ?? []).map((e) => `\n  ${e.field || "(body)"}: ${e.message}`).join("");
  throw new CallFailed(`${step} failed: ${status}: ${message}${fields}`);
}

async function main(): Promise<void> {
  const { baseUrl, apiKey } = settingsFromEnv();
  const api = createGamifyHostClient(baseUrl, apiKey);
  const externalId = process.argv[2] || `ts-example-${randomUUID().slice(0, 8)}`;
  // The key's kind only (pk_test_ acts on TEST data, pk_live_ on LIVE): keys stay out of logs.
  console.log(`GamifyHost API at ${baseUrl}, key ${apiKey.replace(/^([a-z]{2}_[a-z]{4}_)?.*$/s, "$1…")}`);

  // 1. Track (create or enrich) the user.
  const tracked = ok("track user", await api.POST("/v1/user-journeys/users", {
    body: {
      externalId,
      displayName: "Ada Example",
      email: "ada@example.com",
      country: "NG",
      device: "desktop",
      source: "typescript-example",
      tags: { plan: "trial" },
    },
  }));
  const user = tracked.data;
  console.log(`tracked user ${user.externalId}: id ${user.id}, ${user.environment}, stage ${user.lifecycleStage}`);

  // 2. Post one event for the user.
  const posted = ok("track event", await api.POST("/v1/user-journeys/events", {
    body: {
      externalId,
      category: "GAME_PLAY",
      eventType: "spin_the_wheel",
      points: 50,
      metadata: { gameType: "NEON_WHEEL" },
    },
  }));
  const event = posted.data.event;
  console.log(`posted event ${event.eventType} (${event.category}, ${event.points} points): id ${event.id}`);

  // 3. Read the enriched profile: segment, score and counters computed from the events.
  const read = ok("get user", await api.GET("/v1/user-journeys/users/{externalId}", {
    params: { path: { externalId } },
  }));
  const profile = read.data;
  console.log(`profile: stage ${profile.lifecycleStage}, tier ${profile.engagementTier}, `
    + `score ${profile.engagementScore}, ${profile.totalEvents} events, ${profile.totalPlays} plays, `
    + `${profile.pointsEarned30d} points in 30 days`);
  for (const recommendation of profile.recommendations) {
    console.log(`  recommended (${recommendation.priority}): ${recommendation.name}`);
  }

  // 4. List the active offers (the first read issues what the user's segment earns).
  const listed = ok("get offers", await api.GET("/v1/user-journeys/users/{externalId}/offers", {
    params: { path: { externalId } },
  }));
  const offers = listed.data.offers;
  console.log(`offers: ${offers.length} active`);
  for (const offer of offers) {
    console.log(`  ${offer.id} ${offer.offerType}: ${offer.title}, ${offer.pointsValue} points, `
      + `expires ${offer.expiresAt}`);
  }

  // 5. Claim the first one.
  const first = offers[0];
  if (first === undefined) {
    console.log("no active offer to claim");
    return;
  }
  const claimed = ok("claim offer", await api.POST("/v1/user-journeys/users/{externalId}/offers/{offerId}/claim", {
    params: { path: { externalId, offerId: first.id } },
  }));
  const offer = claimed.data.offer;
  console.log(`claimed offer ${offer.id} (${offer.offerType}): ${offer.status} at ${offer.claimedAt}, `
    + `${offer.pointsValue} points`);
}

main().catch((error: unknown) => {
  if (error instanceof CallFailed) {
    console.error(error.message);
  } else if (error instanceof TypeError && error.cause instanceof Error) {
    // fetch's network failure: nothing answered (is the mock running?).
    console.error(`cannot reach the API: ${error.message}: ${error.cause.message}`);
  } else {
    console.error(error);
  }
  process.exitCode = 1;
});
