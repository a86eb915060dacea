// Signs a Security Event Token with Node's built-in node:crypto only (no
// npm packages): an independent JOSE implementation for the interop test
// of package ssf. Reads {"alg", "kid", "claims"} on stdin; writes
// {"jwk": the public key, "set": the compact JWS} on stdout.
'use strict';
const crypto = require('node:crypto');

const input = JSON.parse(require('node:fs').readFileSync(0, 'utf8'));
const b64url = (buf) => Buffer.from(buf).toString('base64url');

let keys, signOpts;
switch (input.alg) {
  case 'ES256':
    keys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    // RFC 7518 §3.4: R || S, not DER.
    signOpts = (key) => ({ key, dsaEncoding: 'ieee-p1363' });
    break;
  case 'RS256':
    keys = crypto.generateKeyPairSync('rsa', { modulusLength: 2048 });
    signOpts = (key) => key;
    break;
  default:
    throw new Error('unsupported alg ' + input.alg);
}
const header = { alg: input.alg, typ: 'secevent+jwt', kid: input.kid };
const signingInput = b64url(JSON.stringify(header)) + '.' + b64url(JSON.stringify(input.claims));
const sig = crypto.sign('sha256', Buffer.from(signingInput), signOpts(keys.privateKey));
const jwk = keys.publicKey.export({ format: 'jwk' });
jwk.kid = input.kid;
jwk.alg = input.alg;
jwk.use = 'sig';
process.stdout.write(JSON.stringify({ jwk, set: signingInput + '.' + b64url(sig) }));
