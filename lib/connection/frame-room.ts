/** Room checks from the frame's encoded size (never literal thresholds). */
import type { ByteWriter } from '../wire/buffer.js';
import { encodeFrame, frameSize } from '../wire/frames.js';
import type { Frame } from '../wire/frame-types.js';

/** Encodes `f` when it fits in what is left of the packet; returns whether it did. */
export function writeIfFits(w: ByteWriter, f: Frame): boolean {
  if (frameSize(f) > w.remaining) return false;
  encodeFrame(w, f);
  return true;
}
