// Command plot draws the plots of oauthgate's documentation as SVG files,
// from the committed results of the fleet simulation
// (bench/fleetsim/RESULTS.md) and of the load run (the tables of
// docs/performance.md), into docs/img:
//
//	go run ./bench/plot
//
// run from the repository's root (bash .ci/gen does). It uses nothing but
// the standard library, and its output depends only on those files, so the
// test of this package fails when a committed plot is stale.
//
// The guide to the numbers is
// https://github.com/oauthgate/oauthgate/blob/main/docs/operations.md and
// https://github.com/oauthgate/oauthgate/blob/main/docs/performance.md.
package main
