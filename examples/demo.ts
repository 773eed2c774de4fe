/**
 * `npm run demo`: a real transfer over the public API on loopback.
 *
 * A server and a client in one process: the client uploads 16 MiB on four streams, the server answers each
 * stream with the SHA-256 of what it received; then 200 pings on a reliable channel measure the application
 * round trip, and 1,000 datagrams are echoed. Prints what happened and exits 0 only if every hash matched.
 * Secure mode: the client pins the server's freshly generated key.
 */
import { createHash, randomFillSync } from 'node:crypto';
import { connect, generateIdentity, listen, type PetrelStream } from '../lib/api/index.js';

const STREAMS = 4;
const PER_STREAM = 4 * 1024 * 1024;
const PINGS = 200;
const DATAGRAMS = 1000;

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const mib = (n: number) => (n / (1024 * 1024)).toFixed(1);

async function readAll(s: PetrelStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s.iterator({ destroyOnReturn: false })) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

async function main(): Promise<number> {
  const identity = generateIdentity();
  const server = await listen({ host: '127.0.0.1', port: 0, identity, alpn: 'petrel-demo' });
  server.on('connection', (conn) => {
    conn.on('stream', (s) => {
      const h = createHash('sha256');
      void (async () => {
        for await (const c of s.iterator({ destroyOnReturn: false })) h.update(c as Buffer);
        s.end(h.digest('hex'));
      })();
    });
    const ping = conn.channel<{ t: number }>('ping', { mode: 'reliable-ordered' });
    ping.on('message', (m) => ping.send(m));
    conn.on('datagram', (d) => conn.sendDatagram(d));
  });
  const { port } = server.address();
  console.log(`server listening on 127.0.0.1:${port} (UDP), key ${identity.fingerprint}`);

  const t0 = performance.now();
  const conn = await connect({ host: '127.0.0.1', port, serverKey: identity.fingerprint, alpn: 'petrel-demo' });
  console.log(`connected in ${(performance.now() - t0).toFixed(1)} ms, alpn=${conn.alpn}`);

  // 1. Bulk: four streams in parallel, each answered with the hash the server computed.
  const payloads = Array.from({ length: STREAMS }, () => randomFillSync(Buffer.allocUnsafe(PER_STREAM)));
  const tBulk = performance.now();
  const answers = await Promise.all(
    payloads.map(async (data) => {
      const s = await conn.openStream();
      s.end(data);
      return (await readAll(s)).toString();
    }),
  );
  const bulkMs = performance.now() - tBulk;
  const matches = answers.filter((a, i) => a === sha256(payloads[i]!)).length;
  const total = STREAMS * PER_STREAM;
  console.log(
    `bulk: ${mib(total)} MiB on ${STREAMS} streams in ${bulkMs.toFixed(0)} ms = ${(total / 1e6 / (bulkMs / 1000)).toFixed(1)} MB/s; ` +
      `SHA-256 match ${matches}/${STREAMS}`,
  );

  // 2. Round trips on a reliable channel (MessagePack).
  const ping = conn.channel<{ t: number }>('ping', { mode: 'reliable-ordered' });
  const rtts: number[] = [];
  for (let i = 0; i < PINGS; i++) {
    const back = new Promise<{ t: number }>((r) => ping.once('message', r));
    ping.send({ t: performance.now() });
    const echoed = await back;
    rtts.push(performance.now() - echoed.t);
  }
  rtts.sort((a, b) => a - b);
  const q = (p: number) => rtts[Math.min(rtts.length - 1, Math.floor(p * rtts.length))]!.toFixed(3);
  console.log(`channel ping x${PINGS}: rtt p50 ${q(0.5)} ms, p99 ${q(0.99)} ms; transport srtt ${conn.stats().smoothedRtt.toFixed(2)} ms`);

  // 3. Datagrams: unreliable, echoed.
  // Unreliable by design: a datagram that does not fit the send queue or a full socket buffer is lost.
  let echoed = 0;
  conn.on('datagram', () => echoed++);
  for (let i = 0; i < DATAGRAMS; i += 100) {
    for (let k = 0; k < 100; k++) conn.sendDatagram(new Uint8Array(200).fill((i + k) & 0xff));
    await new Promise((r) => setTimeout(r, 2));
  }
  const until = performance.now() + 1000;
  while (echoed < DATAGRAMS && performance.now() < until) await new Promise((r) => setTimeout(r, 5));
  console.log(`datagrams: ${DATAGRAMS} sent in bursts of 100, ${echoed} echoed back (${conn.stats().datagramsDropped} dropped from a full send queue)`);

  const st = conn.stats();
  console.log(
    `client stats: ${mib(st.bytesSent)} MiB sent, ${mib(st.bytesReceived)} MiB received, ${st.packetsSent} packets out, ` +
      `${st.packetsLost} lost, cwnd ${(st.cwnd / 1024).toFixed(0)} KiB`,
  );
  const sst = server.stats();
  console.log(`server socket buffers granted: recv ${mib(sst.recvBufferSize)} MiB, send ${mib(sst.sendBufferSize)} MiB`);

  await conn.close({ reason: 'demo done' });
  await server.close();
  const ok = matches === STREAMS;
  console.log(ok ? 'OK: all hashes matched' : 'FAILED: hash mismatch');
  return ok ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    console.error(err);
    process.exit(1);
  },
);
