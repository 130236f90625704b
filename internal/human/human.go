// Package human formats values for the people reading dump's output: sizes in
// binary units and commands they can paste into a shell. It imports nothing
// of the project, so every stage and the CLI print them the same way.
package human

import (
	"fmt"
	"strings"
)

// Bytes renders n in binary units: "512 B", "8.0 MiB", "1.5 GiB".
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// Quote makes s one word for a POSIX shell, so a command can be pasted as
// printed even when a path holds a space or a quote. Plain words (paths,
// URLs, flags) are left as they are.
func Quote(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("@%+=:,./_-", r))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// Command renders argv as one line a POSIX shell reads back as argv.
func Command(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = Quote(a)
	}
	return strings.Join(q, " ")
}
