#!/usr/bin/env node
/**
 * Launches Temporal's Java test server so that it fits @temporalio/testing's `existing-path`
 * contract: `temporal-test-server <port> [--enable-time-skipping]`, ready when
 * WorkflowService/GetSystemInfo answers on 127.0.0.1:<port>, stopped by SIGKILL, gone when the
 * process that launched it goes away. scripts/real-temporal.sh copies this file next to the jars
 * (lib/) and the compiled TestServerLauncher (classes/) and makes it executable.
 *
 * Why a proxy: the SDK gives a server 50 polls of 100 ms to answer GetSystemInfo, and a JVM that
 * loads gRPC, Netty and the Temporal SDK takes 2 s on an idle 2-core machine and 15-20 s on a
 * loaded one. So this process listens on <port> at once and pipes every connection, byte for byte,
 * to the JVM on a private port; a connection made before the JVM listens waits for it. The SDK's
 * first GetSystemInfo is therefore answered by the Java server itself, just later.
 *
 * Lifetime: the SDK SIGKILLs this process; the JVM (TestServerLauncher) halts when its parent, this
 * process, is gone. If the SDK's process dies first, this process notices that it was re-parented
 * and stops the JVM.
 */
'use strict';
const { spawn } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const fs = require('node:fs');

const HERE = __dirname;
/** Kept in step with the archive dump in scripts/real-temporal.sh (CDS needs the same options). */
const JVM_OPTIONS = ['-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-Xss512k'];
const BACKEND_WAIT_MS = Number(process.env.TEMPORAL_TEST_SERVER_START_TIMEOUT_MS || 180000);

function fail(message) {
  process.stderr.write(`temporal-test-server: ${message}\n`);
  process.exit(2);
}

const [portArg, ...flags] = process.argv.slice(2);
const port = Number(portArg);
if (!Number.isInteger(port) || port <= 0 || port > 65535) fail(`usage: temporal-test-server <port> [--enable-time-skipping] (got port "${portArg ?? ''}")`);

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port: p } = s.address();
      s.close(() => resolve(p));
    });
  });
}

function jvmArgs(backendPort) {
  // Start-up over peak speed: one JIT tier and the serial collector (a test server lives for one
  // test file); and the class-data archive scripts/real-temporal.sh dumped, if it is there.
  const args = JVM_OPTIONS.slice();
  const archive = path.join(HERE, 'app-cds.jsa');
  if (fs.existsSync(archive)) args.push(`-XX:SharedArchiveFile=${archive}`, '-Xshare:auto', '-Xlog:cds=off', '-Xlog:cds+dynamic=off');
  const classpath = [path.join(HERE, 'launcher.jar'), path.join(HERE, 'lib', '*')].join(path.delimiter);
  return [...args, '-cp', classpath, 'TestServerLauncher', String(backendPort), ...flags];
}

async function main() {
  const backendPort = await freePort();
  const java = process.env.JAVA || 'java';
  const jvm = spawn(java, jvmArgs(backendPort), { stdio: ['ignore', 'inherit', 'inherit'] });
  let jvmExited = false;
  jvm.on('error', (err) => fail(`cannot run ${java}: ${err.message}`));
  jvm.on('exit', (code, signal) => {
    jvmExited = true;
    process.stderr.write(`temporal-test-server: the Java test server exited (${signal ?? `code ${code}`})\n`);
    process.exit(code === 0 ? 0 : 1);
  });
  const stopJvm = () => {
    if (!jvmExited) jvm.kill('SIGKILL');
  };
  process.on('SIGTERM', () => {
    stopJvm();
    process.exit(0);
  });
  process.on('SIGINT', () => {
    stopJvm();
    process.exit(0);
  });

  const startedAt = Date.now();
  function connectBackend(client) {
    if (client.destroyed) return;
    const upstream = net.connect(backendPort, '127.0.0.1');
    let connected = false;
    upstream.once('connect', () => {
      connected = true;
      upstream.setNoDelay(true);
      upstream.once('close', () => client.destroy());
      client.once('close', () => upstream.destroy());
      client.pipe(upstream);
      upstream.pipe(client);
      client.resume();
    });
    upstream.on('error', (err) => {
      if (connected) return client.destroy();
      // Not listening yet: the JVM is still starting.
      if (err.code === 'ECONNREFUSED' && !jvmExited && Date.now() - startedAt < BACKEND_WAIT_MS) setTimeout(() => connectBackend(client), 50);
      else client.destroy();
    });
  }
  const proxy = net.createServer({ pauseOnConnect: true, noDelay: true }, (client) => {
    client.on('error', () => client.destroy());
    connectBackend(client);
  });
  proxy.on('error', (err) => {
    stopJvm();
    fail(`cannot listen on 127.0.0.1:${port}: ${err.message}`);
  });
  proxy.listen(port, '127.0.0.1');

  // Re-parented (the launching process died without killing us): stop.
  const parent = process.ppid;
  setInterval(() => {
    if (process.ppid !== parent) {
      stopJvm();
      process.exit(0);
    }
  }, 500).unref();
}

main().catch((err) => fail(err instanceof Error ? err.message : String(err)));
