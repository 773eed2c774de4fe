/**
 * A/B of two Petrel trees on a two-process 64-byte DATAGRAM echo (or raw node:dgram), steady state: 2000 warm-up
 * round trips, then N timed; prints each side's CPU per round trip (process.cpuUsage, user/sys, and main thread
 * vs V8's helper threads from /proc/self/task) and the server's pumps and timer firings per round trip.
 *
 *   PIN_SERVER=0 taskset -c 1 node --import tsx tools/bench/echo-ab.mjs ROOT client 0 N [insecure|secure|raw]
 *
 * ROOT is a checkout (its lib/index.ts is loaded); PIN_SERVER pins the forked server to that core.
 */

import { readFileSync, readdirSync } from 'node:fs';
import { fork } from 'node:child_process';
const [root, role, portArg, nArg, mode] = process.argv.slice(2);
const lib = await import(`${root}/lib/index.ts`);
function threads() {
  const out = {};
  for (const t of readdirSync('/proc/self/task')) {
    const s = readFileSync(`/proc/self/task/${t}/stat`, 'utf8');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    const name = readFileSync(`/proc/self/task/${t}/comm`, 'utf8').trim();
    out[t] = { name, ticks: Number(rest[11]) + Number(rest[12]) };
  }
  return out;
}
function split(a, b) {
  let main = 0, other = 0;
  for (const [t, v] of Object.entries(b)) {
    const d = v.ticks - (a[t]?.ticks ?? 0);
    if (Number(t) === process.pid) main += d; else other += d;
  }
  return { main: main * 10000, other: other * 10000 }; // µs (100 Hz ticks)
}
const secure = mode === 'secure';
if (mode === 'raw' && role === 'server') {
  const dgram = await import('node:dgram');
  {
    const sock = dgram.createSocket('udp4');
    sock.on('message', (m, r) => sock.send(m, r.port, r.address));
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    let mark;
    process.on('message', (m) => {
      if (m === 'mark') { mark = { c: process.cpuUsage(), t: threads() }; process.send('ok'); }
      if (m === 'done') process.send({ cpu: process.cpuUsage(mark.c), th: split(mark.t, threads()), pumps: 0, timers: 0 });
    });
    process.send({ port: sock.address().port });
  }
} else if (role === 'server') {
  const id = secure ? lib.generateIdentity() : undefined;
  const server = await lib.listen({ host: '127.0.0.1', port: 0, ...(id ? { identity: id } : { insecure: true }) });
  server.on('connection', (c) => c.on('datagram', (d) => c.sendDatagram(d)));
  let mark;
  process.on('message', (m) => {
    if (m === 'mark') { mark = { c: process.cpuUsage(), t: threads(), s: server.stats() }; process.send('ok'); }
    if (m === 'done') {
      const st = server.stats();
      process.send({ cpu: process.cpuUsage(mark.c), th: split(mark.t, threads()), pumps: st.pumps - mark.s.pumps, timers: st.timerFires - mark.s.timerFires });
    }
  });
  process.send({ port: server.address().port, fp: id?.fingerprint });
} else {
  const n = Number(nArg);
  const pin = process.env.PIN_SERVER;
  const child = pin ? fork(process.argv[1], [root, 'server', '0', '0', mode], { execPath: '/usr/bin/taskset', execArgv: ['-c', pin, process.execPath, ...process.execArgv] }) : fork(process.argv[1], [root, 'server', '0', '0', mode], { execArgv: process.execArgv });
  const first = await new Promise((r) => child.once('message', r));
  let c;
  if (mode === 'raw') {
    const dgram = await import('node:dgram');
    const { EventEmitter } = await import('node:events');
    const sock = dgram.createSocket('udp4');
    await new Promise((r) => sock.bind(0, '127.0.0.1', r));
    await new Promise((r) => sock.connect(first.port, '127.0.0.1', r));
    c = new EventEmitter();
    sock.on('message', (m) => c.emit('datagram', m));
    c.sendDatagram = (m) => sock.send(m);
    c.close = async () => sock.close();
  } else c = await lib.connect({ host: '127.0.0.1', port: first.port, ...(secure ? { serverKey: first.fp } : { insecure: true }) });
  const msg = new Uint8Array(64).fill(1);
  const run = (k) => new Promise((resolve) => {
    let left = k;
    const on = () => { if (--left === 0) { c.off('datagram', on); resolve(); } else c.sendDatagram(msg); };
    c.on('datagram', on);
    c.sendDatagram(msg);
  });
  await run(2000);
  child.send('mark'); await new Promise((r) => child.once('message', r));
  const c0 = process.cpuUsage(), t0 = threads();
  const w0 = performance.now();
  await run(n);
  const wall = performance.now() - w0;
  const cc = process.cpuUsage(c0), th = split(t0, threads());
  child.send('done');
  const s = await new Promise((r) => child.once('message', r));
  const f = (x) => (x / n).toFixed(1);
  console.log(`${root.split('/').pop()} ${mode ?? 'insecure'}: wall/rt ${(wall*1000/n).toFixed(1)} µs | client cpu/rt ${f(cc.user + cc.system)} (user ${f(cc.user)} sys ${f(cc.system)}; main ${f(th.main)} other ${f(th.other)}) | server cpu/rt ${f(s.cpu.user + s.cpu.system)} (user ${f(s.cpu.user)} sys ${f(s.cpu.system)}; main ${f(s.th.main)} other ${f(s.th.other)}) pumps/rt ${(s.pumps/n).toFixed(2)} timers/rt ${(s.timers/n).toFixed(3)}`);
  await c.close();
  child.kill();
  process.exit(0);
}
