package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"

	"golang.org/x/term"
)

func stdinIsTerminal() bool { return term.IsTerminal(int(os.Stdin.Fd())) }

var stdin = bufio.NewReader(os.Stdin)

// ask a yes/no question on the terminal; def is the answer to a bare Enter.
func ask(u *ui, question string, def bool) (bool, error) {
	hint := "y/N"
	if def {
		hint = "Y/n"
	}
	u.warnf("%s (%s) ", question, hint)
	line, err := stdin.ReadString('\n')
	if err != nil && line == "" {
		return false, fmt.Errorf("no answer: %w", err)
	}
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "":
		return def, nil
	case "y", "yes":
		return true, nil
	default:
		return false, nil
	}
}

// choose asks for a number from 1 to n.
func choose(u *ui, n int) (int, error) {
	u.warnf("%d dumps match; which one? (1-%d) ", n, n)
	line, err := stdin.ReadString('\n')
	if err != nil && line == "" {
		return 0, fmt.Errorf("no answer: %w", err)
	}
	k, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || k < 1 || k > n {
		return 0, usageErrorf("%q is not a number from 1 to %d", strings.TrimSpace(line), n)
	}
	return k, nil
}
