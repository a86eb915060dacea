// Package docs has no code: its tests keep README.md and the pages of docs/
// true to the repository.
//
//   - A block that follows <!-- compiled: PATH --> is the whole file PATH,
//     byte for byte, so what a reader copies is what CI builds and tests
//     (the README's newcomer walk is the module examples/newcomer).
//   - Every shell block is marked <!-- ci: NAME -->, and .ci/run runs it by
//     that name, or <!-- ci: skip (reason) -->, saying why CI cannot.
//   - Every relative link and #anchor leads somewhere, and the README stays
//     under 400 lines.
//   - The newcomer walk's service, server and wiring test stay within 80
//     lines of code (blank and comment lines aside, as cloc counts).
//   - The doc of every public package links its page under docs/.
//   - docs/errors.md names every ErrorInfo reason of the decision core,
//     where the Reason constants' documentation sends readers.
//
// .ci/run renders every mermaid block with the Mermaid CLI; these tests
// need nothing but Go.
package docs
