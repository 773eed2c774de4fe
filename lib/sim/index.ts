/** Deterministic network simulator: drive sans-IO Petrel endpoints under virtual time over impaired links. */
export type { SimAddress, SimNode } from './types.js';
export { addressKey, sameAddress } from './address.js';
export { SimRandom } from './random.js';
export { EventQueue } from './event-queue.js';
export type { QueuedEvent } from './event-queue.js';
export { Tracer, fnv1a32, fingerprint, traceTime } from './trace.js';
export type { TraceSink } from './trace.js';
export { LinkDirection, SimLink, gilbertElliottLossRate } from './link.js';
export type { DropReason, GilbertElliott, LinkConfig, LinkStats, ResolvedLinkConfig, Delivery } from './link.js';
export { Simulator } from './simulator.js';
export type { LinkOptions, RebindOptions, RunOptions, RunResult, SimCounters, SimulatorOptions, StopReason } from './simulator.js';
export { DEFAULT_MIX_RANGES, ExtremesReport, MIX_DIMENSIONS, describeMix, randomImpairmentMix } from './impairment-mix.js';
export type { DimensionRange, ExtremeCounts, ImpairmentMix, ImpairmentRanges, MixDimension } from './impairment-mix.js';
