package tests

import (
	"os"
	"testing"
)

var binary builtBinary

func TestMain(m *testing.M) {
	code := m.Run()
	if binary.path != "" {
		_ = os.RemoveAll(binary.path[:len(binary.path)-len("/allocation")])
	}
	os.Exit(code)
}
