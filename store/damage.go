package store

import (
	"fmt"
	"os"
)

// damaged wraps what is wrong with a data file in an error that says what to
// do about it.
func damaged(path string, cause error) error {
	return fmt.Errorf("data file %s is damaged (%w): restore it from a backup (ocnid backup), or move it away to start with an empty store; `ocnid check -data %s` says more", path, cause, path)
}

// checkFile refuses a data file that exists but cannot be an ocni data file:
// one truncated to nothing would otherwise be taken for a new, empty store.
func checkFile(path string) error {
	fi, err := os.Stat(path)
	if os.IsNotExist(err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("data file %s: %w", path, err)
	}
	if fi.IsDir() {
		return fmt.Errorf("data file %s is a directory", path)
	}
	if fi.Size() == 0 {
		return damaged(path, fmt.Errorf("it is empty (0 bytes)"))
	}
	return nil
}
