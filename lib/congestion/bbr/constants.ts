/**
 * BBRv3 constants (draft-ietf-ccwg-bbr §2). Times are ms here (the draft uses seconds), volumes bytes,
 * rates bytes per ms.
 */

/** §2.4 StartupPacingGain: 4·ln 2, the least gain that doubles the sending rate each round. */
export const BBR_STARTUP_PACING_GAIN = 4 * Math.LN2;
/** §5.3.2 DrainPacingGain: drains Startup's queue in under a round. */
export const BBR_DRAIN_PACING_GAIN = 0.35;
/** §2.5 DefaultCwndGain: the cwnd gain of Startup and most states. */
export const BBR_DEFAULT_CWND_GAIN = 2;
/** §5.3.3 pacing gains of ProbeBW DOWN, CRUISE / REFILL and UP; UP's cwnd gain. */
export const BBR_PROBE_DOWN_PACING_GAIN = 0.9;
export const BBR_CRUISE_PACING_GAIN = 1;
export const BBR_PROBE_UP_PACING_GAIN = 1.25;
export const BBR_PROBE_UP_CWND_GAIN = 2.25;
/** §2.4 PacingMarginPercent: pace 1 % below the estimated bandwidth. */
export const BBR_PACING_MARGIN = 0.01;
/** §2.7 LossThresh: the most per-round loss tolerated while probing. */
export const BBR_LOSS_THRESH = 0.02;
/** §2.7 Beta: multiplicative decrease per lossy round (never harder than CUBIC's 0.7). */
export const BBR_BETA = 0.7;
/** §2.7 Headroom: share of inflight_hi left free for cross traffic in CRUISE and ProbeRTT. */
export const BBR_HEADROOM = 0.15;
/** §2.7 MinPipeCwnd, in datagrams. */
export const BBR_MIN_PIPE_CWND_PACKETS = 4;
/** §5.3.1.2: rounds without 25 % bandwidth growth that mean the pipe is full. */
export const BBR_FULL_BW_THRESH = 1.25;
export const BBR_FULL_BW_COUNT = 3;
/** §5.3.1.3 StartupFullLossCnt: discontiguous loss ranges in a round that end Startup (with the loss rate). */
export const BBR_STARTUP_FULL_LOSS_COUNT = 6;
/** §2.10 MaxBwFilterLen, in ProbeBW cycles. */
export const BBR_MAX_BW_FILTER_LEN = 2;
/** §2.11 ExtraAckedFilterLen, in rounds. */
export const BBR_EXTRA_ACKED_FILTER_LEN = 10;
/** §2.13 MinRTTFilterLen, ms. */
export const BBR_MIN_RTT_FILTER_LEN = 10_000;
/** §2.13.2 ProbeRTTInterval and ProbeRTTDuration, ms; ProbeRTTCwndGain. */
export const BBR_PROBE_RTT_INTERVAL = 5_000;
export const BBR_PROBE_RTT_DURATION = 200;
export const BBR_PROBE_RTT_CWND_GAIN = 0.5;
/** §5.3.3.5: wall-clock wait before probing, 2 s plus up to 1 s at random; Reno-coexistence bound in rounds. */
export const BBR_PROBE_WAIT_BASE = 2_000;
export const BBR_PROBE_WAIT_RANDOM = 1_000;
export const BBR_RENO_ROUNDS_MAX = 63;
/** §5.6.3: send quantum = pacing rate × 1 ms, within [2 datagrams, 64 KiB]. */
export const BBR_SEND_QUANTUM_MAX = 64 * 1024;
/** §5.3.3.4: inflight_hi's additive growth doubles each UP round, up to 2^30 datagrams. */
export const BBR_MAX_PROBE_UP_ROUNDS = 30;
/**
 * Petrel's random-loss filter (not in the draft; spec/recovery.md §BBR): a loss counts as congestion only
 * when the latest RTT sample shows a queue, i.e. exceeds min_rtt by this fraction of it (and by at least
 * BBR_QUEUE_DELAY_MIN ms). A drop-tail queue that overflows is full, so its losses always pass.
 */
export const BBR_QUEUE_DELAY_FRACTION = 0.1;
export const BBR_QUEUE_DELAY_MIN = 1;
