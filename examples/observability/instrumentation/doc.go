// Package instrumentation tests, through their public API and the
// OpenTelemetry SDK, the metrics and span attributes that oauthgate's
// packages record. It has no code of its own: the SDK must not enter
// oauthgate's go.mod, so these tests live in this separate module.
package instrumentation
