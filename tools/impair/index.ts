/**
 * `petrel/impair`: the impairment proxy as a library. Put it between a Petrel client and server (or any UDP
 * endpoints) in your own tests and demos:
 *
 *   const proxy = new ImpairProxy({ listen: { host: '127.0.0.1', port: 0 }, target: server.address(),
 *                                   upstream: { loss: 0.05, delay: 30 }, downstream: { loss: 0.05, delay: 30 } });
 *   const { port } = await proxy.start();   // clients connect here
 *   ...
 *   const stats = await proxy.stop();       // what the link did, per direction
 */
export { ImpairProxy } from './proxy.js';
export type { ImpairDirection, ImpairDirectionStats, ImpairEndpoint, ImpairProxyOptions, ImpairStats } from './proxy.js';
export type { GilbertElliott, LinkConfig, ResolvedLinkConfig } from '../../lib/sim/link.js';
