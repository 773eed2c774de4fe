export { ChannelLayer } from './channel-layer.js';
export type { ChannelLayerEvent, ChannelLayerOptions, ChannelMessageEvent, ChannelMode, ChannelStats } from './channel-layer.js';
export { Reassembly } from './reassembly.js';
export type { FragmentResult, ReassemblyDropReason, ReassemblyLimits } from './reassembly.js';
