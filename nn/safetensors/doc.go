// Package safetensors reads and writes the safetensors file format
// (https://github.com/huggingface/safetensors), the format PyTorch and the
// Hugging Face tools save model weights in.
//
// A safetensors file is an 8-byte little-endian header length N, N bytes of
// JSON header, then the data buffer. The header maps each tensor name to its
// dtype, shape and [begin, end) byte offsets into the data buffer, plus an
// optional "__metadata__" object of strings.
//
// Read accepts F32, F16, BF16 and I64 tensors; floating tensors are converted
// exactly to float32. Write emits F32 and I64 tensors, laid out contiguously
// in sorted-name order. WriteFile replaces a file atomically, so a crash or an
// error never leaves a half-written checkpoint.
//
// Files are treated as untrusted input: a malformed or hostile file gives an
// error naming the problem and the tensor, never a panic, and Read never
// allocates more than the file holds (twice that for F16 and BF16 tensors,
// which grow to float32).
package safetensors
