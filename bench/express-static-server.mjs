#!/usr/bin/env node
// Baseline for bench/static.mjs: express 5 + express.static serving a directory from disk,
// mounted at the same URL prefix the Fazt node uses for the app (/a/bench/), defaults untouched.
//
//   node bench/express-static-server.mjs SITE_DIR [PORT] [PREFIX]
//
// Prints {"port":..,"pid":..} on stdout once listening.
import express from 'express';

const [site, port = '0', prefix = '/a/bench'] = process.argv.slice(2);
if (!site) {
  console.error('usage: node bench/express-static-server.mjs SITE_DIR [PORT] [PREFIX]');
  process.exit(2);
}

const app = express();
app.use(prefix, express.static(site));

const server = app.listen(Number(port), '127.0.0.1', (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.log(JSON.stringify({ port: server.address().port, pid: process.pid }));
});

function shutdown() {
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 1000).unref();
}
process.on('SIGTERM', shutdown);
process.on('SIGINT', shutdown);
