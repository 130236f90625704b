//go:build !unix

package crypto

import "errors"

func mkfifo(string) error { return errors.New("no fifos on this system") }
