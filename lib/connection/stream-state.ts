/** One stream's state inside a connection: its buffers, credit, and what control frames it owes. */
import { SendBuffer } from '../stream/send-buffer.js';
import { RecvBuffer, type FragmentBudget } from '../stream/recv-buffer.js';
import { RecvWindow, SendCredit } from '../stream/flow-control.js';

export type SendState = 'open' | 'reset' | 'done';
export type RecvState = 'open' | 'reset' | 'done';

export class StreamState {
  readonly id: number;
  readonly local: boolean;
  readonly send: SendBuffer | null;
  readonly recv: RecvBuffer | null;
  readonly sendCredit: SendCredit;
  readonly recvWindow: RecvWindow | null;
  sendState: SendState;
  recvState: RecvState;
  /** RESET_STREAM we owe the peer (error code), until acknowledged. */
  resetCode: number | null = null;
  resetPending = false;
  resetFinalSize = 0;
  /** STOP_SENDING we owe the peer. */
  stopCode: number | null = null;
  stopPending = false;
  /** MAX_STREAM_DATA to (re)send. */
  maxDataPending = false;
  /** STREAM_DATA_BLOCKED limit to send. */
  blockedPending: number | null = null;
  /** Whether the stream sits in the send scheduler. */
  queued = false;
  /** RFC 9218 priority: urgency 0 (most urgent) – 7, and whether it shares bandwidth incrementally. */
  urgency = 3;
  incremental = false;
  /** Since when the stream has been blocked by the peer's stream limit with data waiting, and the total. */
  blockedSince: number | null = null;
  timeBlocked = 0;
  /** Send offset at the last redundant bundling of the unacknowledged tail (once per new message). */
  bundledUpTo = 0;
  /** Whether the application has been told there is something to read since its last read. */
  readableSignaled = false;
  /** Highest offset received, as counted against the connection window. */
  countedRecvOffset = 0;
  /** Bytes the application consumed (or that a reset released), as counted against the connection window. */
  countedConsumed = 0;

  constructor(args: {
    id: number;
    local: boolean;
    canSend: boolean;
    canRecv: boolean;
    sendLimit: number;
    recvWindow: number;
    maxRecvWindow: number;
    /** The connection's fragment budget, shared by all its streams' reassembly (spec/streams.md §Receiving). */
    fragments?: FragmentBudget;
  }) {
    this.id = args.id;
    this.local = args.local;
    this.send = args.canSend ? new SendBuffer() : null;
    this.recv = args.canRecv ? new RecvBuffer({ shared: args.fragments }) : null;
    this.sendCredit = new SendCredit(args.canSend ? args.sendLimit : 0);
    this.recvWindow = args.canRecv ? new RecvWindow({ initialWindow: args.recvWindow, maxWindow: args.maxRecvWindow }) : null;
    this.sendState = args.canSend ? 'open' : 'done';
    this.recvState = args.canRecv ? 'open' : 'done';
  }

  get closed(): boolean {
    return this.sendState === 'done' && this.recvState === 'done' && !this.resetPending && !this.stopPending;
  }
}
