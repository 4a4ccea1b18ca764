// Package assets embeds the data of graft's demo in the binary, so an
// installed graft needs no checkout: the MNIST CNN base checkpoint
// (copied from testdata/mnistcnn, see its README for how it was made) and
// scikit-learn's digits (copied from testdata/digits; CC BY 4.0, Alpaydin
// & Kaynak 1998, UCI ML Repository, doi:10.24432/C50P49).
package assets

import _ "embed"

// MNISTCNN is the base checkpoint: mnistcnn trained on MNIST (test
// accuracy 0.9938), safetensors with graft's metadata.
//
//go:embed mnistcnn.safetensors
var MNISTCNN []byte

// Digits is scikit-learn's digits.csv.gz (1,797 8×8 digits, label last).
//
//go:embed digits.csv.gz
var Digits []byte
