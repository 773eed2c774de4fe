/**
 * Petrel's own client for the conformance runner's client mode:
 *   node --import tsx conformance/clients/petrel-client.ts <host> <port> <key|insecure>
 * Connects, echoes `petrel-conformance` over one stream, exits 0 when the reply matches, 1 otherwise.
 */
import { connect } from '../../lib/api/connect.js';

export async function main(argv: readonly string[]): Promise<number> {
  const [host, port, key] = argv;
  if (!host || !port || !key) {
    process.stderr.write('usage: petrel-client <host> <port> <fingerprint|insecure>\n');
    return 2;
  }
  const insecure = key === 'insecure';
  try {
    const conn = await connect({ host, port: Number(port), ...(insecure ? { insecure: true } : { serverKey: key }), timeout: 5000 });
    const stream = await conn.openStream();
    stream.end('petrel-conformance');
    const chunks: Buffer[] = [];
    for await (const c of stream.iterator({ destroyOnReturn: false })) chunks.push(c as Buffer);
    const ok = Buffer.concat(chunks).toString() === 'petrel-conformance';
    await conn.close();
    return ok ? 0 : 1;
  } catch (err) {
    process.stderr.write(`petrel-client: ${(err as Error).message}\n`);
    return 1;
  }
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
