/** RangeSet lives in lib/util (it serves recovery, streams and ACK generation alike); this path stays for old imports. */
export { RangeSet } from '../util/range-set.js';
