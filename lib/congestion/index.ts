export type { AckedPacketInfo, CongestionAlgorithm, CongestionConfig, CongestionController } from './types.js';
export { NewReno, LOSS_REDUCTION_FACTOR, initialWindowBytes } from './new-reno.js';
import type { CongestionAlgorithm, CongestionConfig, CongestionController } from './types.js';
import { NewReno } from './new-reno.js';
import { PetrelError } from '../errors.js';

export function createCongestionController(name: CongestionAlgorithm, cfg: CongestionConfig): CongestionController {
  switch (name) {
    case 'newreno':
      return new NewReno(cfg);
    default:
      throw new PetrelError('INVALID_ARGUMENT', `unknown congestion controller: ${String(name)}`);
  }
}
