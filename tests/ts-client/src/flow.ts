// The whole creative flow through a client nobody here wrote: types generated from the served
// OpenAPI document by openapi-typescript, calls made by openapi-fetch. Type-checked by tsc
// before it runs; run by tests/e2e/test_typescript_client.py with the service's URL and a token.
import createClient from "openapi-fetch";
import { writeFile } from "node:fs/promises";
import type { components, paths } from "../generated/schema.js";

type GenerationRequest = components["schemas"]["GenerationRequestRead"];
type Status = components["schemas"]["GenerationStatus"];

const [baseUrl, token, outDir] = process.argv.slice(2);
if (!baseUrl || !token || !outDir) throw new Error("usage: flow.js BASE_URL TOKEN OUT_DIR");
const client = createClient<paths>({ baseUrl, headers: { Authorization: `Bearer ${token}` } });
const WAIT = "wait=60";

// A move answered with Prefer: wait: 200, the header, and the status its step settled in.
function settled(
  move: string,
  answer: { data?: GenerationRequest; error?: unknown; response: Response },
  expected: Status,
): GenerationRequest {
  const { data, error, response } = answer;
  if (!data) throw new Error(`${move}: ${response.status} ${JSON.stringify(error)}`);
  if (response.status !== 200 || response.headers.get("preference-applied") !== "wait") {
    throw new Error(`${move}: answered ${response.status} without waiting`);
  }
  if (data.status !== expected) throw new Error(`${move}: ${data.status}, not ${expected}`);
  return data;
}

const models = await client.GET("/api/v1/models");
const credits = await client.GET("/api/v1/credits");
if (!models.data || !credits.data) throw new Error("models or credits failed");

const started = Date.now();
const created = settled(
  "create",
  await client.POST("/api/v1/generation-requests", {
    params: { header: { prefer: WAIT, "Idempotency-Key": `ts-${started}` } },
    body: { project_id: "ts-client", prompt: "A kite over the sea", format: "instagram_post", seed: 7 },
  }),
  "awaiting_selection",
);
const createMs = Date.now() - started;
const path = { request_id: created.id };
const chosen = created.sample_asset_infos[1];
if (!chosen) throw new Error("no samples");

const varied = settled(
  "vary",
  await client.POST("/api/v1/generation-requests/{request_id}/vary", {
    params: { path, header: { prefer: WAIT } },
    body: { sample_id: chosen.asset_id, strength: "strong" },
  }),
  "awaiting_selection",
);
const fromVariation = varied.sample_asset_infos[0];
if (!fromVariation) throw new Error("no variations");

settled(
  "select",
  await client.POST("/api/v1/generation-requests/{request_id}/select-sample", {
    params: { path, header: { prefer: WAIT } },
    body: { selected_sample_id: fromVariation.asset_id },
  }),
  "completed",
);
const done = settled(
  "second final",
  await client.POST("/api/v1/generation-requests/{request_id}/select-sample", {
    params: { path, header: { prefer: WAIT } },
    body: { selected_sample_id: chosen.asset_id, resolution: "high", output_format: "png" },
  }),
  "completed",
);

const final = done.final_asset_info;
if (!final) throw new Error("no final");
const image = new Uint8Array(await (await fetch(final.url)).arrayBuffer());
const png = [0x89, 0x50, 0x4e, 0x47].every((byte, i) => image[i] === byte);
await writeFile(`${outDir}/final.png`, image);

console.log(
  JSON.stringify({
    models: models.data.models.map((m) => m.id),
    balance_before: credits.data.balance,
    create_ms: createMs,
    samples_ms: created.metrics.samples_ms,
    rounds: done.rounds.map((r) => [r.kind, r.seed]),
    finals: done.finals.map((f) => [f.sample_id, f.quality, f.credits_cost]),
    final: { resolution: final.resolution, bytes: image.length, png },
    variation_source_seed: chosen.seed,
  }),
);
