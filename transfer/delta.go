package transfer

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"

	"github.com/graftml/graft/nn"
	"github.com/graftml/graft/nn/models"
)

// Metadata keys of a delta checkpoint.
const (
	// MetaDelta holds the strategy that trained the delta; its presence
	// marks a checkpoint as a delta.
	MetaDelta = "delta"
	// MetaBaseHash holds WeightsHash of the base the delta was trained
	// over; LoadDelta refuses any other base.
	MetaBaseHash = "base_sha256"
	// MetaBase names the base for people and tools: the path of its
	// checkpoint when the caller records one (graft finetune does), else
	// its architecture.
	MetaBase = "base"
)

// WeightsHash returns the SHA-256 (hex) of a model's parameters and
// buffers: their names, shapes and values. Two models with the same hash
// compute the same function.
func WeightsHash(m nn.Layer) string {
	h := sha256.New()
	fmt.Fprintf(h, "graft weights v1\n")
	hashWeights(h, m)
	return hex.EncodeToString(h.Sum(nil))
}

// IsDelta reports whether checkpoint metadata describes a delta.
func IsDelta(meta nn.Meta) bool { return meta.Extra[MetaDelta] != "" }

// SaveDelta writes only what the run trained (Result.Trained: the head
// and the unfrozen groups, with their BatchNorm buffers) as a delta
// checkpoint, to be loaded over the base with LoadDelta. The delta
// records the base: the hash of its weights (MetaBaseHash) and, unless
// meta.Extra already names it under MetaBase (a path, say), its
// architecture.
func SaveDelta(path string, res *Result, meta nn.Meta) error {
	keep := map[string]bool{}
	for _, n := range res.Trained {
		keep[n] = true
	}
	if meta.Arch == "" {
		meta = res.Model.Meta()
	}
	extra := map[string]string{}
	for k, v := range meta.Extra {
		extra[k] = v
	}
	extra[MetaDelta] = string(res.Strategy)
	if res.BaseHash != "" {
		extra[MetaBaseHash] = res.BaseHash
	}
	if extra[MetaBase] == "" {
		extra[MetaBase] = res.Model.Arch
	}
	meta.Extra = extra
	return nn.SaveSelected(path, res.Model, meta, func(name string) bool { return keep[name] })
}

// LoadDelta applies a delta checkpoint to a copy of base (with a head for
// the delta's classes when they differ) and returns the result. It
// returns an error when the delta records a base whose weights differ
// from base's.
func LoadDelta(path string, base *models.Model) (*models.Model, error) {
	meta, err := nn.ReadMeta(path)
	if err != nil {
		return nil, err
	}
	if want := meta.Extra[MetaBaseHash]; want != "" {
		if got := WeightsHash(base); got != want {
			return nil, fmt.Errorf("transfer: delta %s was trained over base %s (weights %.12s…), not this %s (weights %.12s…)",
				path, meta.Extra[MetaBase], want, base.Arch, got)
		}
	}
	m, err := Copy(base)
	if err != nil {
		return nil, err
	}
	if o, err := models.ParseOptions(meta.Options); err == nil && o.Classes > 0 && o.Classes != m.Options.Classes {
		if _, err := ReplaceHead(m, o.Classes, 0); err != nil {
			return nil, err
		}
	}
	if _, _, err := nn.Load(path, m, nn.LoadOptions{Partial: true}); err != nil {
		return nil, fmt.Errorf("transfer: delta %s over %s: %w", path, base.Arch, err)
	}
	return m, nil
}
