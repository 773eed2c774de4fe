export { ChannelLayer } from './channel-layer.js';
export type { ChannelLayerEvent, ChannelLayerOptions, ChannelMessageEvent, ChannelMode, ChannelStats } from './types.js';
export { UnreliableSender } from './unreliable-sender.js';
export { Reassembly } from './reassembly.js';
export type { FragmentResult, ReassemblyDropReason, ReassemblyLimits } from './reassembly.js';
