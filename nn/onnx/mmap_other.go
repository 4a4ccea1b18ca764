//go:build !linux && !darwin

package onnx

import "os"

// mapFile reads the file whole.
func mapFile(path string) ([]byte, func(), error) {
	b, err := os.ReadFile(path)
	return b, func() {}, err
}

// dropPages does nothing where the file is read, not mapped.
func dropPages([]byte) {}
