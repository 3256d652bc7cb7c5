/**
 * The V8 flags an API node runs with: `npm start` passes them (package.json, kept equal by `node-flags.test.ts`),
 * and the benchmarks that measure the platform in their own process run under them too (`bench/platform-runtime.ts`).
 *
 * `--max-semi-space-size=64` (MiB; V8's default is 16): a request's objects (its rows, its page, its response)
 * live until it answers, and an audited read answers only once its record is committed, so with the default
 * young generation a scavenge ran every few dozen requests and copied, then promoted, the pages of every request
 * still waiting. Garbage collection was the largest single difference between the audited read and the same read
 * without its record (`docs/benchmarks.md`). The larger young generation scavenges a quarter as often for the
 * same live set; it costs at most 96 MiB more per process.
 */
export const PLATFORM_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=64'];
