export type {
  AckedPacketInfo,
  CongestionAlgorithm,
  CongestionConfig,
  CongestionController,
  DeliveryState,
  LostPacketInfo,
  RateSample,
} from './types.js';
export { NewReno, LOSS_REDUCTION_FACTOR, initialWindowBytes } from './new-reno.js';
export { Cubic, CUBIC_ALPHA, CUBIC_BETA, CUBIC_C, cubicK, cubicWindow } from './cubic.js';
export type { CubicConfig, CubicOptions } from './cubic.js';
export {
  HyStart,
  HYSTART_CSS_GROWTH_DIVISOR,
  HYSTART_CSS_ROUNDS,
  HYSTART_MAX_RTT_THRESH,
  HYSTART_MIN_RTT_DIVISOR,
  HYSTART_MIN_RTT_THRESH,
  HYSTART_N_RTT_SAMPLE,
  hystartRttThreshold,
} from './hystart.js';
export type { HyStartPhase } from './hystart.js';
export {
  Pacer,
  DEFAULT_PACER_BURST_PACKETS,
  DEFAULT_PACER_QUANTUM,
  PACING_GAIN_CONGESTION_AVOIDANCE,
  PACING_GAIN_SLOW_START,
  pacerBurstBytes,
  pacingRateFor,
} from './pacer.js';
export type { PacerConfig } from './pacer.js';
export { Bbr } from './bbr/bbr.js';
export type { BbrConfig, BbrOptions, BbrState } from './bbr/bbr.js';
export { BbrModel } from './bbr/model.js';
export { MaxBwFilter, WindowedMaxFilter } from './bbr/filters.js';
export * from './bbr/constants.js';
import type { CongestionAlgorithm, CongestionController } from './types.js';
import { NewReno } from './new-reno.js';
import { Cubic } from './cubic.js';
import type { CubicConfig } from './cubic.js';
import { Bbr } from './bbr/bbr.js';
import { PetrelError } from '../errors.js';

/** `cfg` may carry CUBIC's options (hystart, fastConvergence); NewReno and BBR ignore them. */
export function createCongestionController(name: CongestionAlgorithm, cfg: CubicConfig): CongestionController {
  switch (name) {
    case 'newreno':
      return new NewReno(cfg);
    case 'cubic':
      return new Cubic(cfg);
    case 'bbr':
      return new Bbr(cfg);
    default:
      throw new PetrelError('INVALID_ARGUMENT', `unknown congestion controller: ${String(name)}`);
  }
}
