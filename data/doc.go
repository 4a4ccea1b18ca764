// Package data loads datasets for training and fine-tuning: the IDX format
// of the MNIST family (MNIST, Fashion-MNIST, gzipped or not), CSV image
// tables, image folders of PNG, JPEG and GIF files ([LoadFolder], one
// sub-folder per class, with torchvision's resize and centre crop), and the
// splitting, sub-sampling and shuffling that transfer learning needs
// (stratified train/validation splits, k-shot subsets). [Augmented] wraps a
// Set with random training-time augmentation (crop, flip, small affine).
//
// A dataset is a [*Set]: every example stored as normalised float32 values in
// NHWC order (one example is H×W×C, channels last), an integer label per
// example, the class names, and the per-channel mean and standard deviation
// that were used to normalise it, so that a checkpoint can record them and
// prediction can apply the same transform.
//
// Every loader checks its input: a wrong magic number, a truncated or corrupt
// gzip stream, a header that promises more data than the file holds, a
// malformed CSV line or a label out of range is returned as an error that
// names the file (and, for CSV, the line); loaders never panic on bad files
// and never allocate more memory than the file can fill.
//
// Randomness (Shuffle, Split, FewShot; Augment draws from PCG too, seeded
// per example from its seed and a counter) comes from a math/rand/v2 PCG source
// seeded by the caller, driven by this package's own Fisher–Yates shuffle, so
// the same seed gives the same permutation on every machine and Go release.
package data
