package kernels

import (
	"strings"
	"testing"
)

func TestParseTier(t *testing.T) {
	for _, tier := range Tiers {
		got, err := ParseTier(strings.ToUpper(tier.String()))
		if err != nil || got != tier {
			t.Errorf("ParseTier(%q) = %v, %v", tier, got, err)
		}
	}
	if _, err := ParseTier("sse9"); err == nil || !strings.Contains(err.Error(), `"sse9"`) {
		t.Errorf("ParseTier(sse9) error = %v", err)
	}
}

func TestChooseFromEnv(t *testing.T) {
	best := Best()
	if got, _ := choose(""); got != best {
		t.Errorf("choose(\"\") = %s, want best %s", got, best)
	}
	if got, why := choose("generic"); got != Generic || why != "GRAFT_CPU=generic" {
		t.Errorf("choose(generic) = %s (%s)", got, why)
	}
	if got, why := choose("bogus"); got != best || !strings.Contains(why, "not a tier") {
		t.Errorf("choose(bogus) = %s (%s)", got, why)
	}
	for _, tier := range Tiers {
		if ok, _ := Supported(tier); !ok {
			got, why := choose(tier.String())
			if got != best || !strings.Contains(why, "asked, but") {
				t.Errorf("choose(%s) on a machine without it = %s (%s)", tier, got, why)
			}
		}
	}
}

func TestAvailableIsOrderedAndIncludesGeneric(t *testing.T) {
	av := Available()
	if len(av) == 0 || av[0] != Generic || av[len(av)-1] != Best() {
		t.Fatalf("Available() = %v, Best() = %s", av, Best())
	}
}

func TestCacheSizesPositive(t *testing.T) {
	c := CacheSizes()
	if c.L1D <= 0 || c.L2 <= 0 || c.L3 <= 0 {
		t.Fatalf("CacheSizes() = %+v", c)
	}
}

func TestTestTiers(t *testing.T) {
	if ok, why := StandInsSupported(AVX2); ok {
		t.Fatalf("StandInsSupported(avx2) = true (%s); avx2 has no stand-ins", why)
	}
	names := map[string]bool{}
	for _, tt := range TestTiers() {
		names[tt.String()] = true
		if real, _ := Supported(tt.Tier); !tt.StandIns && !real {
			t.Errorf("TestTiers lists %s, which this CPU cannot run", tt)
		}
	}
	if sup, _ := Supported(AVX512); !sup && !names["avx512-standins"] {
		if ok, _ := StandInsSupported(AVX512); ok {
			t.Errorf("TestTiers = %v: no avx512 stand-ins on a machine without AVX-512", names)
		}
	}
}
