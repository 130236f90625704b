// Package docs embeds the user documentation that travels inside every dump,
// so the links in report.txt and index.html open offline.
package docs

import _ "embed"

// Troubleshooting is troubleshooting.md: one section per kind of collector failure.
//
//go:embed troubleshooting.md
var Troubleshooting []byte
