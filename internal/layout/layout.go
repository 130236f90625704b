// Package layout holds what every stage must agree on about a dump: its
// names on disk and in a bucket, and the limits that gather enforces and
// decrypt relies on. It imports nothing of the project, so gather, crypto,
// upload, decrypt and cmd can all use it.
package layout

// MaxFiles is the most files one dump may hold. Gather stops adding files at
// this count (and records what it left out); decrypt refuses an archive with
// more members unless the user raises its --max-files.
const MaxFiles = 200_000

// DirName is the top directory of a dump's tree: dump-<uuid>.
func DirName(id string) string { return "dump-" + id }
